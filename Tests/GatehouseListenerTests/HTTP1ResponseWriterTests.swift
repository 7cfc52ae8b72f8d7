@testable import GatehouseListener
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// Responses to HTTP/1.1 callers written as bytes: the same bytes NIO's server pipeline writes for
/// the same response to the same request, and nothing its validator would have refused.
@Suite("Responses to callers, written as bytes")
struct HTTP1ResponseWriterTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var method: HTTPMethod = .GET
        var version: HTTPVersion = .http1_1
        var status: HTTPResponseStatus = .ok
        var headers: HTTPHeaders = [:]
        var body: [String] = []
        var trailers: HTTPHeaders?
        var testDescription: String { "\(method) → \(status.code) \(headers.map(\.name)) \(body.count) parts" }
    }

    static let cases: [Case] = [
        Case(headers: ["content-length": "5", "x-a": "1"], body: ["hel", "lo"]),
        Case(headers: ["x-a": "1"], body: ["hello", "", " world"]),
        Case(headers: ["x-a": "1", "transfer-encoding": "chunked"], body: ["a"], trailers: ["grpc-status": "0", "grpc-message": "ok"]),
        Case(headers: ["content-length": "5", "transfer-encoding": "chunked"], body: ["hello"]),
        Case(method: .HEAD, headers: ["content-length": "5"]),
        Case(method: .HEAD, headers: ["x-a": "1"]),
        Case(status: .noContent, headers: ["content-length": "0", "x-a": "1"]),
        Case(status: .notModified, headers: ["transfer-encoding": "chunked", "etag": "\"x\""]),
        Case(status: .custom(code: 599, reasonPhrase: "Odd One"), headers: ["content-length": "2"], body: ["hi"]),
        Case(status: HTTPResponseStatus(statusCode: 508), headers: ["content-length": "0"]),
        Case(version: .http1_0, headers: ["x-a": "1"], body: ["raw"]),
    ]

    /// What NIO's server pipeline (its decoder tells its encoder the request's method) writes.
    private func nioBytes(_ c: Case) throws -> String {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
        try channel.writeInbound(ByteBuffer(string: "\(c.method.rawValue) / HTTP/1.1\r\nHost: h\r\n\r\n"))
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: c.version, status: c.status, headers: c.headers)))
        for part in c.body { try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: part)))) }
        try channel.writeOutbound(HTTPServerResponsePart.end(c.trailers))
        return try drain(channel)
    }

    private func writerBytes(_ c: Case) throws -> String {
        let writer = HTTP1ResponseWriter()
        let allocator = ByteBufferAllocator()
        let request = HTTPRequestHead(version: .http1_1, method: c.method, uri: "/")
        var text = String(buffer: try writer.head(HTTPResponseHead(version: c.version, status: c.status, headers: c.headers), answering: request, allocator: allocator))
        for part in c.body {
            var parts: [ByteBuffer] = []
            writer.body(ByteBuffer(string: part), allocator: allocator, into: &parts)
            for buffer in parts { text += String(buffer: buffer) }
        }
        if let end = writer.end(trailers: c.trailers, allocator: allocator) { text += String(buffer: end) }
        return text
    }

    private func drain(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let part = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = part { text += String(buffer: buffer) }
        }
        return text
    }

    @Test("The same bytes as NIO's encoder: status line, headers, framing (length, chunks, none after HEAD, 204 and 304), trailers", arguments: cases)
    func sameBytesAsNIO(_ c: Case) throws {
        let (ours, nio) = (try writerBytes(c), try nioBytes(c))
        #expect(ours == nio, "\(ours.debugDescription) vs \(nio.debugDescription)")
    }

    @Test("A header that is not HTTP is refused before anything is written: CR LF, NUL or DEL in a value, a name that is not a token, CR LF in a reason phrase")
    func refusesWhatIsNotHTTP() {
        let refused: [HTTPResponseHead] = [
            HTTPResponseHead(version: .http1_1, status: .ok, headers: ["x-a": "1\r\nset-cookie: stolen=1"]),
            HTTPResponseHead(version: .http1_1, status: .ok, headers: ["x-a": "1\n"]),
            HTTPResponseHead(version: .http1_1, status: .ok, headers: ["x-a": "\u{0}"]),
            HTTPResponseHead(version: .http1_1, status: .ok, headers: ["x-a": "\u{7F}"]),
            HTTPResponseHead(version: .http1_1, status: .ok, headers: ["x a": "1"]),
            HTTPResponseHead(version: .http1_1, status: .ok, headers: ["": "1"]),
            HTTPResponseHead(version: .http1_1, status: .custom(code: 200, reasonPhrase: "OK\r\nx-b: 1"), headers: [:]),
        ]
        for head in refused {
            #expect((try? HTTP1ResponseWriter().head(head, answering: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"), allocator: ByteBufferAllocator())) == nil, "\(head)")
        }
    }

    /// Everything written for `response` (and a body) answering `request`, and of it the head alone.
    private func written(_ response: HTTPResponseHead, body: String, answering request: HTTPRequestHead) throws -> (all: String, head: String) {
        let writer = HTTP1ResponseWriter()
        let allocator = ByteBufferAllocator()
        let head = String(buffer: try writer.head(response, answering: request, allocator: allocator))
        var text = head
        var parts: [ByteBuffer] = []
        writer.body(ByteBuffer(string: body), allocator: allocator, into: &parts)
        for part in parts { text += String(buffer: part) }
        if let end = writer.end(trailers: nil, allocator: allocator) { text += String(buffer: end) }
        return (text, head)
    }

    @Test("Nothing follows the head of a response that has no body (204, 304, 1xx; to HEAD; a 2xx to CONNECT), even when one is written: the next response would start with it",
          arguments: [(HTTPResponseStatus.noContent, HTTPMethod.GET), (.notModified, .GET), (.processing, .GET), (.ok, .HEAD), (.ok, .CONNECT), (.noContent, .POST)])
    func noBodyWhereNoneMayBe(_ status: HTTPResponseStatus, _ method: HTTPMethod) throws {
        for version in [HTTPVersion.http1_1, .http1_0] {
            let (all, head) = try written(HTTPResponseHead(version: .http1_1, status: status), body: "fault filter abort",
                                          answering: HTTPRequestHead(version: version, method: method, uri: "/"))
            #expect(all == head && head.hasSuffix("\r\n\r\n"), "\(all.debugDescription)")
        }
    }

    @Test("A refusal of CONNECT (403) keeps its Content-Length and body: only a 2xx answer to CONNECT has none")
    func connectRefusalHasBody() throws {
        let (all, _) = try written(HTTPResponseHead(version: .http1_1, status: .forbidden, headers: ["content-length": "6"]), body: "denied",
                                   answering: HTTPRequestHead(version: .http1_1, method: .CONNECT, uri: "h:443"))
        #expect(all == "HTTP/1.1 403 Forbidden\r\ncontent-length: 6\r\n\r\ndenied")
    }

    @Test("An HTTP/1.0 caller, which cannot read chunks, gets a body of unknown length as it is; one with a Content-Length is unchanged")
    func http10CallerNotChunked() throws {
        let request = HTTPRequestHead(version: .http1_0, method: .GET, uri: "/")
        let unknown = try written(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["transfer-encoding": "chunked"]), body: "hello", answering: request).all
        #expect(unknown == "HTTP/1.1 200 OK\r\n\r\nhello", "\(unknown.debugDescription)")
        #expect(HTTP1ResponseWriter.closeDelimited(HTTPResponseHead(version: .http1_1, status: .ok), answering: .GET))
        let known = try written(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "5"]), body: "hello", answering: request).all
        #expect(known == "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
        #expect(!HTTP1ResponseWriter.closeDelimited(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "5"]), answering: .GET))
    }

    @Test("A trailer that is not HTTP is left out (the response has started); the others pass")
    func invalidTrailerLeftOut() throws {
        let writer = HTTP1ResponseWriter()
        let allocator = ByteBufferAllocator()
        _ = try writer.head(HTTPResponseHead(version: .http1_1, status: .ok), answering: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/"), allocator: allocator)
        let end = try #require(writer.end(trailers: ["grpc-status": "0", "x-bad": "a\r\nb: c"], allocator: allocator))
        #expect(String(buffer: end) == "0\r\ngrpc-status: 0\r\n\r\n")
    }
}
