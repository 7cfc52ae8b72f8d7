import Foundation
import GatehouseCore
import GatehouseExchange
@testable import GatehouseFunctions
@testable import GatehouseListener
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The forwarder driven in-process: the client's connection and the instance's connection are two
/// `EmbeddedChannel`s on one `EmbeddedEventLoop` (as the real ones share a loop), with the same
/// handlers the listener and the upstream pool install. Request bytes go in on the client side and
/// come out on the instance side; response bytes go the other way.
final class ForwardingHarness {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let upstream: EmbeddedUpstream
    let observer = FinishedRecords()

    /// `peer`: the function's home is another node (`EmbeddedPeer`), this node's own pool the fallback.
    let peer: EmbeddedPeer?

    /// `edits`: header edits the stages made (claims, a route's header operations).
    init(maxIdleTime: TimeAmount? = nil, placed: Bool = false, edits: HeaderEdits = HeaderEdits(), responseEdits: HeaderEdits = HeaderEdits()) throws {
        client = EmbeddedChannel(loop: loop)
        client.remoteAddress = try SocketAddress(ipAddress: "192.0.2.7", port: 40_000)
        upstream = EmbeddedUpstream(loop: loop, maxIdleTime: maxIdleTime)
        peer = placed ? EmbeddedPeer(loop: loop, spec: upstream.spec) : nil
        let pool: any FunctionUpstream = peer.map {
            PlacedUpstream(local: upstream, peer: $0.instance, node: "node-b", reachability: $0.reachability)
        } ?? upstream
        // As the listener installs them (`IngressPipeline.configureHTTP1`).
        try client.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try client.pipeline.syncOperations.addHandler(IngressConnectionHandler(
            processor: ForwardEverything(upstream: upstream, pool: pool, edits: edits, responseEdits: responseEdits), observer: observer, renderer: StatusOnly(),
            limits: ListenerLimits(), loopIndex: 0, tracker: ConnectionTracker(), responseWriter: HTTP1ResponseWriter()))
        try client.connect(to: client.remoteAddress!).wait()
    }

    func peerReceived(connection index: Int = 0) throws -> String {
        loop.run()
        return try Self.drain(try #require(peer).channels[index])
    }

    func peerSends(_ text: String, connection index: Int = 0) throws {
        try #require(peer).channels[index].writeInbound(ByteBuffer(string: text))
        loop.run()
    }

    func clientSends(_ text: String) throws {
        try client.writeInbound(ByteBuffer(string: text))
        loop.run()
    }

    /// What the client received since the last call.
    func clientReceived() throws -> String {
        loop.run()
        return try Self.drain(client)
    }

    /// What the instance received on its `index`th connection since the last call.
    func instanceReceived(connection index: Int = 0) throws -> String {
        loop.run()
        return try Self.drain(upstream.channels[index])
    }

    func instanceSends(_ text: String, connection index: Int = 0) throws {
        try upstream.channels[index].writeInbound(ByteBuffer(string: text))
        loop.run()
    }

    private static func drain(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }
}

/// The instance's side: every connection the pool dials is a new connected `EmbeddedChannel`.
final class EmbeddedUpstream: FunctionUpstream, @unchecked Sendable {
    // Touched only on the embedded loop (the test's thread).
    private(set) var channels: [EmbeddedChannel] = []
    private(set) var released = 0
    let spec = FunctionSpec(name: "fn", namespace: "default", process: .init(command: ["unused"]))
    var timeout: Duration { spec.timeout }
    var remote: RemoteEndpoint? { spec.remote }
    private(set) var instance: FunctionInstance!

    init(loop: EmbeddedEventLoop, maxIdleTime: TimeAmount? = nil) {
        let target = UpstreamTarget(address: .dial { [unowned self] loop in
            let channel = EmbeddedChannel(loop: loop as! EmbeddedEventLoop)
            self.channels.append(channel)
            return channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 9)).map { channel as any Channel }
        }, tls: nil)
        instance = FunctionInstance(
            id: 1, spec: spec, port: 9, upstreamHost: "127.0.0.1:9", target: target, eventLoops: [loop], maxIdleTime: maxIdleTime)
    }

    func acquire(on loop: any EventLoop, callback: @escaping FunctionPool.LeaseCallback) -> FunctionPool.Acquired {
        .leased(InstanceLease(instance: instance, coldStart: false))
    }
    func release(_ lease: InstanceLease) { released += 1 }
    func cancelWaiting(_ waiterID: Int) -> Bool { false }
    func reportUnhealthy(_ instance: FunctionInstance) {}
    func reportAnswer(_ instance: FunctionInstance, status: Int?) {}
}

/// Another node standing in for the function's instances: every connection to it is a new
/// `EmbeddedChannel`, as with `EmbeddedUpstream`.
final class EmbeddedPeer: @unchecked Sendable {
    private(set) var channels: [EmbeddedChannel] = []
    private(set) var instance: FunctionInstance!
    let reachability = PeerReachability()

    init(loop: EmbeddedEventLoop, spec: FunctionSpec) {
        let target = UpstreamTarget(address: .dial { [unowned self] loop in
            let channel = EmbeddedChannel(loop: loop as! EmbeddedEventLoop)
            self.channels.append(channel)
            return channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 10)).map { channel as any Channel }
        }, tls: nil)
        instance = FunctionInstance(
            id: 0, spec: spec, port: 10, upstreamHost: "node-b@127.0.0.1:10", target: target, eventLoops: [loop],
            nodeHop: PeerHop(revision: NodeHop.value(for: spec.revisionKey), node: "node-b"))
    }
}

/// Routes every request to the one function, as the pipeline would after its stages.
struct ForwardEverything: ExchangeProcessor, @unchecked Sendable {
    let upstream: EmbeddedUpstream
    var pool: any FunctionUpstream
    var edits = HeaderEdits()
    var responseEdits = HeaderEdits()

    func begin(_ exchange: Exchange) {
        exchange.record.destination = FunctionDestination(spec: upstream.spec)
        exchange.record.upstreamHeaders = edits
        exchange.record.responseHeaders = responseEdits
        ForwardedExchange(client: exchange, pool: pool).start()
    }
}

final class FinishedRecords: ExchangeObserver {
    private let records = NIOLockedValueBox<[RequestRecord]>([])
    var all: [RequestRecord] { records.withLockedValue { $0 } }
    func exchangeFinished(_ record: inout RequestRecord) { records.withLockedValue { $0.append(record) } }
}

struct StatusOnly: ErrorRenderer {
    func render(_ error: GatehouseError, requestId: String) -> RenderedError {
        let status: HTTPResponseStatus = switch error.code {
        case .upstreamReset, .upstreamConnectFailure, .invalidForwardedRequest, .invalidResponse: .badGateway
        case .upstreamTimeout: .gatewayTimeout
        case .badRequest: .badRequest
        default: .internalServerError
        }
        return RenderedError(status: status, flags: [], headers: [:], body: error.code.name)
    }
}

/// A message's head split into lines: the request or status line, then `name: value` pairs.
private func headerLines(_ message: String) -> (first: String, headers: [(String, String)], body: String) {
    let parts = message.components(separatedBy: "\r\n\r\n")
    let lines = parts[0].components(separatedBy: "\r\n")
    let headers = lines.dropFirst().map { line -> (String, String) in
        let colon = line.firstIndex(of: ":")!
        return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
    return (lines[0], headers, parts.dropFirst().joined(separator: "\r\n\r\n"))
}

@Suite("The forwarder, in-process")
struct ForwardedExchangeTests {
    @Test("A Content-Length request is framed with exactly one Content-Length; the response comes back whole")
    func contentLength() throws {
        let harness = try ForwardingHarness()
        try harness.clientSends("POST /up?x=1 HTTP/1.1\r\nHost: fn.default.localhost\r\nContent-Length: 5\r\nX-Request-Id: fwd-1\r\n\r\nhello")
        let sent = headerLines(try harness.instanceReceived())
        #expect(sent.first == "POST /up?x=1 HTTP/1.1")
        #expect(sent.headers.filter { $0.0 == "content-length" }.map(\.1) == ["5"])
        #expect(!sent.headers.contains { $0.0 == "transfer-encoding" })
        #expect(sent.headers.contains { $0 == ("x-request-id", "fwd-1") })
        #expect(sent.headers.contains { $0 == ("x-forwarded-for", "192.0.2.7") })
        #expect(sent.body == "hello")

        try harness.instanceSends("HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Fn: yes\r\n\r\nok")
        let answered = headerLines(try harness.clientReceived())
        #expect(answered.first == "HTTP/1.1 201 Created")
        #expect(answered.headers.contains { $0 == ("x-fn", "yes") })
        #expect(answered.headers.contains { $0 == ("x-request-id", "fwd-1") })
        #expect(answered.body == "ok")
        let record = try #require(harness.observer.all.first)
        #expect(record.responseCode == 201 && record.attempts == 1 && record.bytesReceived == 5 && record.bytesSent == 2)
        #expect(harness.upstream.released == 1, "the lease is given back when the response ends")
    }

    @Test("A chunked request goes on chunked, without a Content-Length, its chunks intact")
    func chunked() throws {
        let harness = try ForwardingHarness()
        try harness.clientSends("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        let sent = headerLines(try harness.instanceReceived())
        #expect(sent.headers.filter { $0.0 == "transfer-encoding" }.map(\.1) == ["chunked"])
        #expect(!sent.headers.contains { $0.0 == "content-length" })
        #expect(sent.body == "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        try harness.instanceSends("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(try harness.clientReceived().hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    @Test("The instance's connection is kept alive and reused for the next request")
    func keptAlive() throws {
        let harness = try ForwardingHarness()
        for path in ["/one", "/two"] {
            try harness.clientSends("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(headerLines(try harness.instanceReceived()).first == "GET \(path) HTTP/1.1")
            try harness.instanceSends("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n\(path.dropFirst())")
            #expect(headerLines(try harness.clientReceived()).body == String(path.dropFirst()))
        }
        #expect(harness.upstream.channels.count == 1)
    }

    @Test("A connection idle past the pool's idle lifetime (to another node) is closed, not reused")
    func idleLifetime() throws {
        let harness = try ForwardingHarness(maxIdleTime: .zero)
        for path in ["/one", "/two"] {
            try harness.clientSends("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(headerLines(try harness.instanceReceived(connection: harness.upstream.channels.count - 1)).first == "GET \(path) HTTP/1.1")
            try harness.instanceSends("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", connection: harness.upstream.channels.count - 1)
            #expect(try harness.clientReceived().hasPrefix("HTTP/1.1 200 OK\r\n"))
        }
        #expect(harness.upstream.channels.count == 2)
        #expect(!harness.upstream.channels[0].isActive, "the idle one was closed")
    }

    @Test("A hop the home refuses (x-gatehouse-node-hop-refused) runs on this node instead, body and all; the home is then passed over, and its refusal never reaches the caller")
    func refusedHopRunsHere() throws {
        let harness = try ForwardingHarness(placed: true)
        try harness.clientSends("POST /orders HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
        let hop = headerLines(try harness.peerReceived())
        #expect(hop.first == "POST /orders HTTP/1.1" && hop.body == "hello")
        #expect(hop.headers.contains { $0.0 == NodeHop.targetHeader && $0.1 == "node-b" }, "\(hop.headers)")
        try harness.peerSends("HTTP/1.1 503 Service Unavailable\r\n\(NodeHop.refusedHeader): not-this-node\r\nContent-Length: 0\r\n\r\n")
        let here = headerLines(try harness.instanceReceived())
        #expect(here.first == "POST /orders HTTP/1.1" && here.body == "hello", "the body kept for another node is sent again")
        #expect(!here.headers.contains { NodeHop.requestHeaders.contains($0.0) }, "no hop headers to this node's own instance: \(here.headers)")
        try harness.instanceSends("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        let answer = try harness.clientReceived()
        #expect(answer.hasPrefix("HTTP/1.1 201 Created\r\n") && !answer.contains("503") && !answer.contains(NodeHop.refusedHeader), "\(answer)")

        // Passed over for a while: the next request goes straight to this node's instance.
        try harness.clientSends("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(headerLines(try harness.instanceReceived()).first == "GET /next HTTP/1.1")
        #expect(try harness.peerReceived().isEmpty)
    }

    @Test("A response to HEAD has no body, whatever its Content-Length says: the next response on the connection is read as a response")
    func headResponse() throws {
        let harness = try ForwardingHarness()
        try harness.clientSends("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(headerLines(try harness.instanceReceived()).first == "HEAD /h HTTP/1.1")
        try harness.instanceSends("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        let head = try harness.clientReceived()
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.lowercased().contains("content-length: 5") && head.hasSuffix("\r\n\r\n"), "\(head)")
        try harness.clientSends("GET /g HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(headerLines(try harness.instanceReceived()).first == "GET /g HTTP/1.1")
        try harness.instanceSends("HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello")
        let next = headerLines(try harness.clientReceived())
        #expect(next.first == "HTTP/1.1 201 Created" && next.body == "hello")
        #expect(harness.upstream.channels.count == 1, "one connection served both")
    }

    @Test("A header value Gatehouse adds with CR LF in it (a claim, a route's value) is never sent: 502, nothing reaches the instance, and its connection serves the next request",
          arguments: ["a\r\nx-injected: 1", "a\nb", "nul\u{0}", "del\u{7F}"])
    func injectedHeaderRefused(_ value: String) throws {
        var edits = HeaderEdits()
        edits.setHeader("x-claim-sub", value)
        let harness = try ForwardingHarness(edits: edits)
        try harness.clientSends("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try harness.instanceReceived().isEmpty)
        #expect(try harness.clientReceived().hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        let record = try #require(harness.observer.all.first)
        #expect(record.responseCode == 502)
        #expect(harness.upstream.released == 1, "the lease is given back")
        #expect(harness.client.isActive)
        #expect(harness.upstream.channels.count == 1 && harness.upstream.channels[0].isActive, "the clean connection stays in the pool")
        // The next request (with the same edit) is refused the same way: the pooled connection was left clean.
        try harness.clientSends("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try harness.instanceReceived().isEmpty)
        #expect(try harness.clientReceived().hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(harness.upstream.channels.count == 1 && harness.upstream.released == 2)
    }

    @Test("A response header value with CR LF (a route's, a stage's) never reaches the caller: 502 instead, the function's body is not passed on, and the connection serves the next request")
    func injectedResponseHeaderRefused() throws {
        var responseEdits = HeaderEdits()
        responseEdits.setHeader("x-route", "a\r\nset-cookie: session=attacker")
        let harness = try ForwardingHarness(responseEdits: responseEdits)
        try harness.clientSends("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        _ = try harness.instanceReceived()
        try harness.instanceSends("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
        let answer = try harness.clientReceived()
        #expect(answer.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(answer)")
        #expect(!answer.contains("set-cookie") && !answer.contains("secret"), "\(answer)")
        #expect(try #require(harness.observer.all.first).responseCode == 502)
        // The half-read connection was let go; the next request gets a fresh one.
        try harness.clientSends("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(harness.upstream.channels.count == 2 && !harness.upstream.channels[0].isActive)
        #expect(headerLines(try harness.instanceReceived(connection: 1)).first == "GET /next HTTP/1.1")
    }

    @Test("A refused response head lets go of what the forwarder holds: a response that never ends does not keep the instance or its connection")
    func refusedResponseReleasesInstance() throws {
        var responseEdits = HeaderEdits()
        responseEdits.setHeader("x-route", "a\rb")
        let harness = try ForwardingHarness(responseEdits: responseEdits)
        try harness.clientSends("GET /events HTTP/1.1\r\nHost: h\r\n\r\n")
        _ = try harness.instanceReceived()
        try harness.instanceSends("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        #expect(try harness.clientReceived().hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(harness.upstream.released == 1, "the lease is given back at once")
        #expect(!harness.upstream.channels[0].isActive, "the half-read connection is closed")
    }

    @Test("A refused 101 lets go of the instance: the WebSocket never opens and its slot is not held")
    func refusedUpgradeReleasesInstance() throws {
        var responseEdits = HeaderEdits()
        responseEdits.setHeader("x-route", "a\nb")
        let harness = try ForwardingHarness(responseEdits: responseEdits)
        try harness.clientSends("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        #expect(headerLines(try harness.instanceReceived()).first == "GET /ws HTTP/1.1")
        try harness.instanceSends("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        let answer = try harness.clientReceived()
        #expect(answer.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(answer)")
        #expect(harness.upstream.released == 1)
        #expect(!harness.upstream.channels[0].isActive)
    }

    @Test("An HTTP/1.0 caller gets a chunked response's body as it is, then the connection closes (it cannot read chunks)")
    func http10Caller() throws {
        let harness = try ForwardingHarness()
        try harness.clientSends("GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")
        _ = try harness.instanceReceived()
        try harness.instanceSends("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        let answer = headerLines(try harness.clientReceived())
        #expect(answer.first == "HTTP/1.1 200 OK")
        #expect(answer.headers.contains { $0 == ("connection", "close") } && !answer.headers.contains { $0.0 == "transfer-encoding" }, "\(answer.headers)")
        #expect(answer.body == "hello")
        #expect(!harness.client.isActive)
    }

    @Test("An HTTP/1.0 keep-alive caller whose response has a Content-Length stays connected, and its next request is served")
    func http10KeepAlive() throws {
        let harness = try ForwardingHarness()
        for path in ["/one", "/two"] {
            try harness.clientSends("GET \(path) HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")
            #expect(headerLines(try harness.instanceReceived()).first == "GET \(path) HTTP/1.1")
            try harness.instanceSends("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            let answer = headerLines(try harness.clientReceived())
            #expect(answer.headers.contains { $0 == ("connection", "keep-alive") } && answer.body == "ok", "\(answer)")
            #expect(harness.client.isActive)
        }
    }

    @Test("A tab in a value Gatehouse adds, and bytes above 0x7F (obs-text), are passed on as they are")
    func tabAndObsTextAllowed() throws {
        var edits = HeaderEdits()
        edits.setHeader("x-claim-name", "Zoë\tA")
        let harness = try ForwardingHarness(edits: edits)
        try harness.clientSends("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let sent = try harness.instanceReceived()
        #expect(sent.contains("x-claim-name: Zoë\tA\r\n"), "\(sent)")
    }

    @Test("An instance that closes before answering: 502, flag UC, and the client's connection stays usable")
    func upstreamReset() throws {
        let harness = try ForwardingHarness()
        try harness.clientSends("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
        _ = try harness.instanceReceived()
        try harness.upstream.channels[0].close().wait()
        harness.loop.run()
        #expect(try harness.clientReceived().hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        let record = try #require(harness.observer.all.first)
        #expect(record.responseFlags.contains(.upstreamConnectionTermination))
        #expect(harness.client.isActive)
    }
}

@Suite("The forwarder, in-process: streaming")
struct ForwardedStreamingTests {
    @Test("Body parts that arrive after the head go on as they arrive; the end is sent once")
    func streamedBody() throws {
        let harness = try ForwardingHarness()
        try harness.clientSends("PUT /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello")
        let first = headerLines(try harness.instanceReceived())
        #expect(first.headers.filter { $0.0 == "content-length" }.map(\.1) == ["10"])
        #expect(first.body == "hello")
        try harness.clientSends("world")
        #expect(try harness.instanceReceived() == "world", "no re-framing of a Content-Length body")
        try harness.instanceSends("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(try harness.clientReceived().hasPrefix("HTTP/1.1 204 No Content\r\n"))
    }

    @Test("A chunked response is relayed chunked, part by part")
    func chunkedResponse() throws {
        let harness = try ForwardingHarness()
        try harness.clientSends("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
        _ = try harness.instanceReceived()
        try harness.instanceSends("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n")
        let head = try harness.clientReceived()
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(head.lowercased().contains("transfer-encoding: chunked"))
        #expect(head.hasSuffix("3\r\none\r\n"), "the first part is passed on before the rest arrives")
        try harness.instanceSends("3\r\ntwo\r\n0\r\n\r\n")
        #expect(try harness.clientReceived() == "3\r\ntwo\r\n0\r\n\r\n")
        #expect(harness.observer.all.first?.bytesSent == 6)
    }
}
