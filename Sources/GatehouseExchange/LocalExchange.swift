import GatehouseCore
import NIOCore
import NIOHTTP1

/// A request from inside Gatehouse — event delivery, a schedule, an async call, the admin API's
/// invoke — with no client socket: the request is a value, the response goes to `completion`.
/// It runs the same pipeline and reaches the same pools, retries, metrics and logs as a request
/// from a connection (see `Exchange`).
///
/// Confined to `eventLoop`. The whole request body is held (the caller already has it); the
/// response body is collected up to `maxResponseBytes`, past which the exchange is aborted.
public final class LocalExchange: Exchange {
    /// What the function (or the gateway) answered.
    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: ByteBuffer
        public var requestId: String
    }

    /// Why no complete response came back.
    public enum Failure: Error, Sendable, Equatable {
        /// The response started but did not finish (the function failed mid-body, or the caller cancelled).
        case aborted
        /// The response body was larger than the caller takes.
        case responseTooLarge(limit: Int)
    }

    private var finished = false
    public override var isFinished: Bool { finished }
    public override var responseStarted: Bool { responseHead != nil }
    public override var delegate: (any ExchangeDelegate)? {
        didSet { replayBody() }
    }

    private var body: ByteBuffer?
    private var bodyDelivered = false
    private let renderer: any ErrorRenderer
    private let observer: any ExchangeObserver
    private let maxResponseBytes: Int
    private var completion: ((Result<Response, Failure>) -> Void)?
    private var responseHead: HTTPResponseHead?
    private var responseBody: ByteBuffer

    /// `head` must have passed the listener's head check; its framing says `body`'s length.
    public init(
        head: HTTPRequestHead, body: ByteBuffer?, record: RequestRecord, eventLoop: any EventLoop, loopIndex: Int,
        renderer: any ErrorRenderer, observer: any ExchangeObserver, maxResponseBytes: Int,
        completion: @escaping (Result<Response, Failure>) -> Void
    ) {
        self.body = body
        self.renderer = renderer
        self.observer = observer
        self.maxResponseBytes = maxResponseBytes
        self.completion = completion
        responseBody = ByteBuffer()
        var record = record
        record.bytesReceived = body?.readableBytes ?? 0
        super.init(head: head, record: record, eventLoop: eventLoop, loopIndex: loopIndex)
    }

    // MARK: Answering

    public override func sendHead(_ response: HTTPResponseHead) {
        guard !isFinished, responseHead == nil else { return }
        var response = response
        record.responseCode = Int(response.status.code)
        record.responseHeaders.apply(to: &response.headers)
        response.headers.replaceOrAdd(name: "x-request-id", value: record.requestId)
        responseHead = response
    }

    public override func sendBody(_ buffer: ByteBuffer) {
        guard !isFinished, responseHead != nil else { return }
        guard responseBody.readableBytes + buffer.readableBytes <= maxResponseBytes else {
            // The forwarder is told, as if a client had left: it lets go of the instance.
            let sink = delegate
            end(.failure(.responseTooLarge(limit: maxResponseBytes)))
            sink?.clientDisconnected()
            return
        }
        var buffer = buffer
        record.bytesSent += buffer.readableBytes
        responseBody.writeBuffer(&buffer)
    }

    public override func flush() {}

    public override func sendEnd(trailers: HTTPHeaders? = nil) {
        guard !isFinished, let responseHead else { return }
        end(.success(Response(status: Int(responseHead.status.code), headers: responseHead.headers, body: responseBody, requestId: record.requestId)))
    }

    public override func fail(_ error: GatehouseError) {
        guard !isFinished else { return }
        record.failure = error
        guard responseHead == nil else {
            abort()
            return
        }
        let rendered = renderer.render(error, requestId: record.requestId)
        record.responseFlags.formUnion(rendered.flags)
        sendWhole(status: rendered.status, headers: rendered.headers, body: rendered.body)
    }

    public override func abort() {
        end(.failure(.aborted))
    }

    /// The caller gave up (its task was cancelled): the forwarder lets go of its instance, a
    /// stage's pending work is cancelled, and the access log says `DC`.
    public func cancel() {
        guard !isFinished else { return }
        record.responseFlags.insert(.downstreamConnectionTermination)
        let sink = delegate
        let gone = onClientGone
        end(.failure(.aborted))
        sink?.clientDisconnected()
        gone?()
    }

    // The body is all here: nothing to pause (the base class's no-ops); an in-process request is
    // never an upgrade (the base class refuses a tunnel).

    // MARK: Helpers

    private func replayBody() {
        guard let delegate, !isFinished, !bodyDelivered else { return }
        bodyDelivered = true
        if let body, body.readableBytes > 0 { delegate.requestBodyPart(body) }
        body = nil
        delegate.requestBodyEnd()
    }

    private func end(_ result: Result<Response, Failure>) {
        guard !finished else { return }
        finished = true
        delegate = nil
        onClientGone = nil
        record.duration = .now - record.start
        observer.exchangeFinished(&record)
        let completion = self.completion
        self.completion = nil
        completion?(result)
    }
}
