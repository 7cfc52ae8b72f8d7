import Foundation
import GatehouseCore
import GatehouseExchange
import GatehouseStore
import NIOCore
import NIOHTTP1

/// Function calls made with `Prefer: respond-async` (RFC 7240): once every stage let the call
/// through, it is stored like an event and answered `202 Accepted` with its id
/// (`Gatehouse-Call-Id`, and `{"id": …}`); it then runs in the background through the same
/// stages again, as the same verified caller, and its result is kept for `retention`
/// (`GET /api/v1/calls/ID` on the admin API, `gatehouse calls get ID`), or POSTed to the
/// Gatehouse host named by `Gatehouse-Callback`.
public final class AsyncCalls: Sendable {
    let broker: EventBroker
    /// How long a result is kept (default one hour).
    public let retention: TimeInterval

    public static let callIdHeader = "gatehouse-call-id"
    public static let callbackHeader = "gatehouse-callback"
    public static let callStatusHeader = "gatehouse-call-status"

    public init(broker: EventBroker, retention: TimeInterval = 3600) {
        self.broker = broker
        self.retention = retention
    }

    /// Whether the caller asked for an asynchronous answer.
    public static func isRequested(_ exchange: Exchange) -> Bool {
        for value in exchange.head.headers[canonicalForm: "prefer"] where value.lowercased() == "respond-async" { return true }
        return false
    }

    /// ⑥ for a function call that asked for an asynchronous answer. Runs on the exchange's loop.
    public func accept(_ exchange: Exchange) {
        let loop = exchange.eventLoop
        let bound = NIOLoopBound(exchange, eventLoop: loop)
        exchange.delegate = BodyCollector { [self] outcome in
            let exchange = bound.value
            exchange.delegate = nil
            guard case .complete(let body) = outcome else { return }  // the caller left (the listener bounds the size)
            var callback: String?
            if let value = exchange.head.headers.first(name: Self.callbackHeader) {
                guard Self.callbackAddress(value) != nil else {
                    exchange.fail(GatehouseError(.badRequest, detail: "Gatehouse-Callback is not an http:// URL", reason: "invalid_callback"))
                    return
                }
                callback = value
            }
            let call = AsyncCall(
                // The path as the caller sent it (a route's rewrite is applied again when it runs).
                id: Self.newID(), method: exchange.head.method.rawValue, host: exchange.record.authority,
                path: exchange.record.path.beforeRewrite ?? exchange.record.path.value,
                headers: Self.forwardedHeaders(exchange.head.headers), body: body, callback: callback,
                // Replayed as mesh traffic: only a caller of the mesh listener keeps its identity (a
                // Gateway's MUTUAL client runs as no one, and policies that need it refuse the run).
                sourcePrincipal: exchange.record.viaMeshListener ? exchange.record.peer.flatMap { $0.isExternal ? nil : $0.uri } : nil,
                acceptedAt: broker.now())
            Task {
                let outcome: Result<AcceptOutcome, StoreError>
                do throws(StoreError) { outcome = .success(try await broker.store.acceptCall(call, now: broker.now())) } catch { outcome = .failure(error) }
                if case .success(.accepted) = outcome { broker.callWakeup.signal() }
                loop.execute {
                    let exchange = bound.value
                    guard !exchange.isFinished else { return }
                    switch outcome {
                    case .success(.accepted):
                        exchange.respond(GatewayReply(
                            status: 202,
                            headers: [("content-type", "application/json"), (Self.callIdHeader, call.id), ("preference-applied", "respond-async")],
                            body: "{\"id\":\"\(call.id)\"}\n", details: "stored as an async call"))
                    case .success(.full):
                        exchange.fail(GatehouseError(.eventStoreFull, detail: "the call store is at its bound", retryAfter: .seconds(1)))
                    case .failure(let error):
                        exchange.fail(GatehouseError(.eventStoreFailed, detail: "storing the call failed: \(error)", retryAfter: .seconds(1)))
                    }
                }
            }
        }
    }

    /// 128 random bits, hex: the id is the capability to read the result.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(format: "%016llx", generator.next() as UInt64) }.joined()
    }

    /// What the function gets when the call runs: the caller's headers less hop-by-hop ones, the
    /// preference that made it async, framing (Gatehouse sets it) and identity headers (set again
    /// from what is verified when it runs).
    static func forwardedHeaders(_ headers: HTTPHeaders) -> [AsyncCall.Header] {
        var connectionNamed: Set<String> = []
        for value in headers[canonicalForm: "connection"] { connectionNamed.insert(value.lowercased()) }
        return headers.compactMap { name, value in
            let lowered = name.lowercased()
            guard !Self.notStored.contains(lowered), !connectionNamed.contains(lowered) else { return nil }
            return AsyncCall.Header(name: name, value: value)
        }
    }

    static let notStored: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade", "proxy-connection",
        "proxy-authorization", "prefer", "x-forwarded-client-cert", callbackHeader,
    ]

    /// `http://HOST[:PORT]/PATH` → host and path; the host is one Gatehouse serves or the call fails there.
    /// The path stays percent-encoded as written (decoding `%0D%0A` would put a line break in the
    /// request line); the head check refuses anything raw that is not printable ASCII.
    static func callbackAddress(_ value: String) -> (host: String, path: String)? {
        guard let components = URLComponents(string: value), components.scheme == "http", let host = components.host, !host.isEmpty,
              components.user == nil, components.password == nil, components.fragment == nil
        else { return nil }
        let path = (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        return (components.port.map { "\(host):\($0)" } ?? host, path)
    }
}
