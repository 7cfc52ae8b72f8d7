import GatehouseCore
import GatehouseExchange
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// An in-process exchange, driven on an embedded event loop: no socket anywhere.
@Suite("LocalExchange: a request value in, a response value out")
struct LocalExchangeTests {
    final class Sink: ExchangeDelegate {
        var parts: [ByteBuffer] = []
        var ended = false
        var left = false
        func requestBodyPart(_ buffer: ByteBuffer) { parts.append(buffer) }
        func requestBodyEnd() { ended = true }
        func clientDisconnected() { left = true }
        func clientBecameWritable() {}
    }

    struct Renderer: ErrorRenderer {
        func render(_ error: GatehouseError, requestId: String) -> RenderedError {
            RenderedError(status: .forbidden, flags: [], headers: ["content-type": "application/json"], body: "{\"code\":\"\(error.code.name)\"}")
        }
    }

    final class Records: ExchangeObserver, @unchecked Sendable {
        var finished: [RequestRecord] = []
        func exchangeFinished(_ record: inout RequestRecord) { finished.append(record) }
    }

    final class Outcome: @unchecked Sendable {
        var result: Result<LocalExchange.Response, LocalExchange.Failure>?
    }

    static func exchange(body: String? = nil, maxResponseBytes: Int = 1024, observer: Records, outcome: Outcome) -> LocalExchange {
        let loop = EmbeddedEventLoop()
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/a/../b", headers: ["host": "fn.default.localhost"])
        let record = RequestRecord(
            requestId: "local-1", startWallNanos: 0, start: .now, method: "POST", path: head.uri, httpProtocol: "HTTP/1.1",
            authority: "fn.default.localhost")
        return LocalExchange(
            head: head, body: body.map { ByteBuffer(string: $0) }, record: record, eventLoop: loop, loopIndex: 0,
            renderer: Renderer(), observer: observer, maxResponseBytes: maxResponseBytes) { outcome.result = $0 }
    }

    @Test("The body reaches the forwarder when it attaches; the response comes back with the request id and the response phase's headers")
    func roundTrip() throws {
        let (records, outcome) = (Records(), Outcome())
        let exchange = Self.exchange(body: "hello", observer: records, outcome: outcome)
        #expect(exchange.record.path.value == "/b", "normalized at the front, as for any request")
        exchange.record.responseHeaders.setHeader("x-routed", "yes")
        let sink = Sink()
        exchange.delegate = sink
        #expect(sink.parts.map { String(buffer: $0) } == ["hello"] && sink.ended)
        exchange.sendHead(HTTPResponseHead(version: .http1_1, status: .ok))
        exchange.sendBody(ByteBuffer(string: "wor"))
        exchange.sendBody(ByteBuffer(string: "ld"))
        exchange.sendEnd()
        let response = try #require(try outcome.result?.get())
        #expect(response.status == 200 && String(buffer: response.body) == "world")
        #expect(response.headers.first(name: "x-request-id") == "local-1" && response.headers.first(name: "x-routed") == "yes")
        #expect(records.finished.count == 1 && records.finished[0].responseCode == 200 && records.finished[0].bytesSent == 5)
        #expect(exchange.isFinished)
    }

    @Test("A refusal is rendered as on the wire; a gateway reply is not a failure")
    func refusalsAndReplies() throws {
        let (records, outcome) = (Records(), Outcome())
        let refused = Self.exchange(observer: records, outcome: outcome)
        refused.fail(GatehouseError(.deniedByPolicy, detail: "no"))
        let response = try #require(try outcome.result?.get())
        #expect(response.status == 403 && String(buffer: response.body).contains("denied_by_policy"))
        #expect(records.finished.last?.failure?.code == .deniedByPolicy)

        let replied = Self.exchange(observer: records, outcome: outcome)
        replied.respond(GatewayReply(status: 410, body: "gone", details: "direct_response"))
        #expect(try outcome.result?.get().status == 410)
        #expect(records.finished.last?.failure == nil && records.finished.last?.replyDetails == "direct_response")
    }

    @Test("A response past the limit ends the exchange and lets the forwarder go; so does a caller that cancels")
    func bounded() {
        let (records, outcome) = (Records(), Outcome())
        let exchange = Self.exchange(maxResponseBytes: 8, observer: records, outcome: outcome)
        let sink = Sink()
        exchange.delegate = sink
        exchange.sendHead(HTTPResponseHead(version: .http1_1, status: .ok))
        exchange.sendBody(ByteBuffer(string: "0123456789"))
        #expect(outcome.result.map { if case .failure(.responseTooLarge(limit: 8)) = $0 { true } else { false } } == true)
        #expect(sink.left && exchange.isFinished)

        let cancelled = Self.exchange(observer: records, outcome: outcome)
        let other = Sink()
        cancelled.delegate = other
        cancelled.cancel()
        #expect(other.left && records.finished.last?.responseFlags.contains(.downstreamConnectionTermination) == true)
        cancelled.sendEnd()
        #expect(records.finished.count == 2, "the observer is told once")
    }
}
