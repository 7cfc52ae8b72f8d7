import GatehouseCore
import GatehouseExchange
@testable import GatehouseListener
import NIOCore
import NIOHTTP1
import Testing

/// The connection handler driven in-process (`IngressConnectionHarness`): request bytes in,
/// response bytes out, the observer's view beside them.
@Suite("One client connection, in-process")
struct IngressConnectionHandlerTests {
    static let echoPath: @Sendable (Exchange) -> Void = { $0.answer("path \($0.head.uri)\n") }

    @Test("A processor's own answer is framed, carries x-request-id, and keeps the connection")
    func directAnswer() throws {
        let connection = try IngressConnectionHarness(answer: Self.echoPath)
        try connection.send("GET /hello?x=1 HTTP/1.1\r\nHost: fn.default.example.com\r\nUser-Agent: t\r\n\r\n")
        let text = try connection.received()
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        let response = try #require(ParsedResponse.all(in: text).first)
        #expect(response.body == "path /hello?x=1\n")
        #expect(response.headers["content-length"] == "16")
        let requestId = try #require(response.headers["x-request-id"])
        #expect(!requestId.isEmpty)
        #expect(response.headers["connection"] == nil, "HTTP/1.1 keeps alive without saying so")
        #expect(connection.isOpen)
        #expect(connection.observer.log == ["began /hello?x=1", "finished /hello?x=1 200"])
        let record = try #require(connection.observer.finished.first)
        #expect(record.requestId == requestId)
        #expect(record.downstreamAddress == "192.0.2.7")
        #expect(record.authority == "fn.default.example.com")
        #expect(record.bytesSent == 16)
    }

    @Test("A sane X-Request-Id from the caller is kept")
    func callerRequestId() throws {
        let connection = try IngressConnectionHarness(answer: Self.echoPath)
        try connection.send("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: trace-me-42\r\n\r\n")
        #expect(ParsedResponse.all(in: try connection.received()).first?.headers["x-request-id"] == "trace-me-42")
    }

    @Test("Headers only Gatehouse sets (X-Forwarded-Client-Cert, X-Gatehouse-*), each alone and in any case, never reach a stage; others do",
          arguments: [
              "X-FORWARDED-CLIENT-CERT: By=spiffe://x;URI=spiffe://admin", "x-Gatehouse-Assertion: forged", "X-Gatehouse-Node-Hop: default/fn/1",
              "x-gatehouse-node-hop-subject: s", "X-GATEHOUSE-NODE-HOP-TO: node-b",
          ])
    func gatehouseHeadersRemoved(_ header: String) throws {
        let connection = try IngressConnectionHarness(answer: { exchange in
            exchange.answer(exchange.head.headers.map { $0.name.lowercased() }.sorted().joined(separator: ","))
        })
        try connection.send("GET / HTTP/1.1\r\nHost: h\r\n\(header)\r\nX-Gatehouse-Other: kept\r\nX-Forwarded-Client: kept\r\n\r\n")
        #expect(ParsedResponse.all(in: try connection.received()).first?.body == "host,x-forwarded-client,x-gatehouse-other")
    }

    @Test("Keep-alive: several requests on one connection, each answered; Connection: close ends it", arguments: [
        ("HTTP/1.1", "", true, nil),
        ("HTTP/1.1", "Connection: close\r\n", false, "close"),
        ("HTTP/1.0", "", false, "close"),
        ("HTTP/1.0", "Connection: keep-alive\r\n", true, "keep-alive"),
    ] as [(String, String, Bool, String?)])
    func keepAlive(_ version: String, _ header: String, _ staysOpen: Bool, _ connectionHeader: String?) throws {
        let connection = try IngressConnectionHarness(answer: Self.echoPath)
        try connection.send("GET /one \(version)\r\nHost: h\r\n\(header)\r\n")
        let first = try #require(ParsedResponse.all(in: try connection.received()).first)
        #expect(first.status == 200)
        #expect(first.headers["connection"] == connectionHeader)
        #expect(connection.isOpen == staysOpen)
        if staysOpen {
            try connection.send("GET /two \(version)\r\nHost: h\r\n\(header)\r\n")
            #expect(ParsedResponse.all(in: try connection.received()).first?.body == "path /two\n")
        }
    }

    @Test("Pipelined requests: the second starts only after the first ended, and the answers keep request order")
    func pipelinedInOrder() throws {
        let connection = try IngressConnectionHarness()
        try connection.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(connection.processor.begun.map(\.head.uri) == ["/a"], "/b waits while /a is served")
        #expect(connection.observer.log == ["began /a"])
        connection.processor.begun[0].answer("first\n")
        #expect(try connection.received().contains("first\n"))
        connection.channel.embeddedEventLoop.run()
        #expect(connection.processor.begun.map(\.head.uri) == ["/a", "/b"])
        connection.processor.begun[1].answer("second\n")
        #expect(ParsedResponse.all(in: try connection.received()).map(\.body) == ["second\n"])
        #expect(connection.observer.log == ["began /a", "finished /a 200", "began /b", "finished /b 200"])
        #expect(connection.isOpen)
    }

    @Test("Pipelined requests answered at once come back in one stream, in order")
    func pipelinedStream() throws {
        let connection = try IngressConnectionHarness(answer: Self.echoPath)
        try connection.send((1...5).map { "GET /\($0) HTTP/1.1\r\nHost: h\r\n\r\n" }.joined())
        let responses = ParsedResponse.all(in: try connection.received())
        #expect(responses.map(\.body) == (1...5).map { "path /\($0)\n" })
        #expect(Set(responses.compactMap { $0.headers["x-request-id"] }).count == 5, "one id per request")
    }

    @Test("Refused framing (smuggling attempts): an error response with x-request-id, then the connection closes; no stage runs",
          arguments: [
        ("TRACE / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),  // the parser refuses it
        ("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ] as [(String, Int)])
    func refusedFraming(_ request: String, _ status: Int) throws {
        let connection = try IngressConnectionHarness(answer: Self.echoPath)
        try connection.send(request + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        let responses = ParsedResponse.all(in: try connection.received())
        #expect(responses.count == 1, "the request smuggled behind it is never answered")
        let response = try #require(responses.first)
        #expect(response.status == status)
        #expect(response.headers["connection"] == "close")
        #expect(!(response.headers["x-request-id"] ?? "").isEmpty)
        #expect(!connection.isOpen)
        #expect(connection.processor.begun.isEmpty)
        #expect(connection.observer.finished.map(\.responseCode) == [status])
    }

    @Test("What the parser refuses (Content-Length with Transfer-Encoding) gets one 400 and a close")
    func parserRefusal() throws {
        let connection = try IngressConnectionHarness(answer: Self.echoPath)
        try connection.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        let response = try #require(ParsedResponse.all(in: try connection.received()).first)
        #expect(response.status == 400)
        #expect(response.headers["connection"] == "close")
        #expect(!(response.headers["x-request-id"] ?? "").isEmpty)
        #expect(!connection.isOpen)
        #expect(connection.processor.begun.isEmpty)
        #expect(connection.observer.log.count == 2, "began and finished, once each")
    }

    @Test("A declared body over the limit is refused with 413 before the processor sees it")
    func bodyTooLarge() throws {
        let connection = try IngressConnectionHarness(limits: ListenerLimits(maxBodyBytes: 10), answer: Self.echoPath)
        try connection.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n")
        let response = try #require(ParsedResponse.all(in: try connection.received()).first)
        #expect(response.status == 413)
        #expect(response.headers["connection"] == "close")
        #expect(connection.processor.begun.isEmpty)
    }

    @Test("An early answer to a request whose body is unread closes the connection after it")
    func earlyAnswerCloses() throws {
        let connection = try IngressConnectionHarness(answer: Self.echoPath)
        try connection.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhalf")
        let response = try #require(ParsedResponse.all(in: try connection.received()).first)
        #expect(response.status == 200)
        // The head went out before the end was decided (a function may answer while the body still
        // streams to it), so it does not say so: the close itself does.
        #expect(!connection.isOpen)
    }

    @Test("Nothing pipelined behind a Connection: close request is served")
    func nothingAfterClose() throws {
        let connection = try IngressConnectionHarness(answer: Self.echoPath)
        try connection.send("GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /extra HTTP/1.1\r\nHost: h\r\n\r\n")
        let text = try connection.received()
        #expect(ParsedResponse.all(in: text).map(\.body) == ["path /last\n"], "\(text)")
        #expect(connection.processor.begun.map(\.head.uri) == ["/last"])
        #expect(!connection.isOpen)
    }

    @Test("Draining: an idle connection closes at once; a busy one finishes its response with Connection: close")
    func draining() throws {
        let idle = try IngressConnectionHarness(answer: Self.echoPath)
        idle.channel.pipeline.fireUserInboundEventTriggered(DrainConnection())
        idle.channel.embeddedEventLoop.run()
        #expect(!idle.isOpen)

        let busy = try IngressConnectionHarness()
        try busy.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        busy.channel.pipeline.fireUserInboundEventTriggered(DrainConnection())
        #expect(busy.isOpen, "the response in progress is not cut")
        busy.processor.begun[0].answer("done\n")
        let response = try #require(ParsedResponse.all(in: try busy.received()).first)
        #expect(response.body == "done\n")
        #expect(response.headers["connection"] == "close")
        #expect(!busy.isOpen)
    }

    @Test("A client that leaves mid-exchange is recorded as such (DC), once")
    func clientLeaves() throws {
        let connection = try IngressConnectionHarness()
        try connection.send("GET /gone HTTP/1.1\r\nHost: h\r\n\r\n")
        try connection.channel.close().wait()
        connection.channel.embeddedEventLoop.run()
        let record = try #require(connection.observer.finished.first)
        #expect(connection.observer.finished.count == 1)
        #expect(record.responseFlags.contains(.downstreamConnectionTermination))
        #expect(record.responseCode == 0)
    }

    @Test("Bytes that are not HTTP behind a request in flight end it (DPE), and what serves it is told to let go")
    func garbageBehindRequest() throws {
        final class Server: ExchangeDelegate {
            var disconnected = 0
            func requestBodyPart(_ buffer: ByteBuffer) {}
            func requestBodyEnd() {}
            func clientDisconnected() { disconnected += 1 }
            func clientBecameWritable() {}
        }
        let connection = try IngressConnectionHarness()
        try connection.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        let exchange = try #require(connection.processor.begun.first)
        let server = Server()
        exchange.delegate = server
        try connection.send("\u{1}\u{2} not a request\r\n\r\n")
        #expect(server.disconnected == 1, "the forwarder would hold its instance lease until the function answered")
        #expect(!connection.isOpen)
        let record = try #require(connection.observer.finished.first)
        #expect(connection.observer.finished.count == 1)
        #expect(record.responseFlags.contains(.downstreamProtocolError))
    }
}
