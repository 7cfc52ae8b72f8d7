import Foundation
import GatehouseCore
import GatehouseExchange
@testable import GatehouseListener
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// One client connection served in-process: NIO's HTTP/1 server codecs and `IngressConnectionHandler`
/// on an `EmbeddedChannel`, exactly as `IngressListener` sets them up, with no socket and no thread.
/// Bytes go in with `send`, the response bytes come out of `received()`; the test turns the loop.
final class IngressConnectionHarness {
    let channel: EmbeddedChannel
    let processor: HeldExchanges
    let observer: RecordingObserver

    /// `answer`: what the processor does with each exchange it is handed (nil: hold it for the test).
    init(limits: ListenerLimits = ListenerLimits(), answer: (@Sendable (Exchange) -> Void)? = nil) throws {
        channel = EmbeddedChannel()
        channel.remoteAddress = try SocketAddress(ipAddress: "192.0.2.7", port: 40_000)
        channel.localAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 8080)
        processor = HeldExchanges(answer: answer)
        observer = RecordingObserver()
        // As the listener installs them (`IngressPipeline.configureHTTP1`).
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try channel.pipeline.syncOperations.addHandler(IngressConnectionHandler(
            processor: processor, observer: observer, renderer: PlainErrors(), limits: limits, loopIndex: 0, tracker: ConnectionTracker(),
            responseWriter: HTTP1ResponseWriter()))
        try channel.connect(to: channel.remoteAddress!).wait()
    }

    /// Writes request bytes as the client would, then runs what the loop has pending.
    func send(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
        channel.embeddedEventLoop.run()
    }

    /// Everything written to the client since the last call, as text.
    func received() throws -> String {
        channel.embeddedEventLoop.run()
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    var isOpen: Bool { channel.isActive }
}

/// Hands each exchange to `answer`, or keeps it for the test to answer.
final class HeldExchanges: ExchangeProcessor, @unchecked Sendable {
    // Only touched on the embedded loop, which is the test's own thread.
    private(set) var begun: [Exchange] = []
    private let answer: (@Sendable (Exchange) -> Void)?

    init(answer: (@Sendable (Exchange) -> Void)?) { self.answer = answer }

    func begin(_ exchange: Exchange) {
        begun.append(exchange)
        answer?(exchange)
    }
}

/// What the observer was told, in order: `began <id>` / `finished <id> <status>`.
final class RecordingObserver: ExchangeObserver {
    private let events = NIOLockedValueBox<[String]>([])
    private let records = NIOLockedValueBox<[RequestRecord]>([])
    var log: [String] { events.withLockedValue { $0 } }
    var finished: [RequestRecord] { records.withLockedValue { $0 } }

    func exchangeBegan(_ record: inout RequestRecord) {
        events.withLockedValue { $0.append("began \(record.path)") }
    }

    func exchangeFinished(_ record: inout RequestRecord) {
        events.withLockedValue { $0.append("finished \(record.path) \(record.responseCode)") }
        records.withLockedValue { $0.append(record) }
    }
}

/// A stand-in for the gateway's `ErrorResponses`: the status follows the code, the body names it.
struct PlainErrors: ErrorRenderer {
    func render(_ error: GatehouseError, requestId: String) -> RenderedError {
        let status: HTTPResponseStatus = switch error.code {
        case .badRequest: .badRequest
        case .unsupportedTransferCoding: .notImplemented
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .payloadTooLarge
        case .requestTimeout: .requestTimeout
        default: .internalServerError
        }
        return RenderedError(status: status, flags: [], headers: ["content-type": "text/plain"], body: "\(error.code.name)\n")
    }
}

extension Exchange {
    /// Answers 200 with `body` and a `Content-Length`.
    func answer(_ body: String, status: HTTPResponseStatus = .ok) {
        var buffer = ByteBuffer()
        buffer.writeString(body)
        sendHead(HTTPResponseHead(version: .http1_1, status: status, headers: ["content-length": String(buffer.readableBytes)]))
        sendBody(buffer)
        sendEnd()
    }
}

/// A response as the client reads it: status line, headers by lowercase name, body.
struct ParsedResponse {
    var status: Int
    var headers: [String: String]
    var body: String

    /// Splits `text` into consecutive responses framed by `Content-Length`.
    static func all(in text: String) -> [ParsedResponse] {
        var responses: [ParsedResponse] = []
        var rest = Substring(text)
        while let end = rest.range(of: "\r\n\r\n") {
            let lines = rest[..<end.lowerBound].components(separatedBy: "\r\n")
            let status = Int(lines[0].split(separator: " ")[1]) ?? 0
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = headers["content-length"].flatMap(Int.init) ?? 0
            let bodyStart = end.upperBound
            let bodyEnd = rest.index(bodyStart, offsetBy: length, limitedBy: rest.endIndex) ?? rest.endIndex
            responses.append(ParsedResponse(status: status, headers: headers, body: String(rest[bodyStart..<bodyEnd])))
            rest = rest[bodyEnd...]
        }
        return responses
    }
}
