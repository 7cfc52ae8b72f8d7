import GatehouseCore
import GatehouseExchange
import GatehouseListener
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Invokes a function from inside Gatehouse, without a socket: the seam event delivery, schedules
/// and async calls use (and the admin API's `invoke`). The request passes the listener's head
/// checks and then the same pipeline as one from the ingress — hop limit, routing, policies, rate
/// limits, the pools, retries, metrics and the access log — as ingress traffic from no address.
public struct LocalInvoker: Sendable {
    /// A request as an in-process caller describes it.
    public struct Request: Sendable {
        public var method: HTTPMethod
        /// The `Host` it is for: a function's `NAME.NAMESPACE.<domain>`, or a VirtualService host.
        public var host: String
        public var path: String
        public var headers: [(name: String, value: String)]
        public var body: ByteBuffer?
        /// A mesh identity Gatehouse itself vouches for (a trigger's, an async caller's): the
        /// request is then mesh traffic from that peer, as if it came over the mesh listener with
        /// its SVID. Nil: ingress traffic from no one.
        public var peer: PeerIdentity?

        public init(
            method: HTTPMethod = .GET, host: String, path: String = "/", headers: [(name: String, value: String)] = [], body: ByteBuffer? = nil,
            peer: PeerIdentity? = nil
        ) {
            self.method = method
            self.host = host
            self.path = path
            self.headers = headers
            self.body = body
            self.peer = peer
        }
    }

    let processor: any ExchangeProcessor
    let loops: [any EventLoop]
    let observer: any ExchangeObserver
    let renderer: any ErrorRenderer
    let limits: ListenerLimits
    /// The ingress listener's address: an in-process request is ingress traffic, so policies on
    /// `destination.port`, `portLevelMtls` and `ports` see what a request to the ingress would.
    let ingress: (host: String, port: Int)
    /// The largest response body an in-process caller takes.
    let maxResponseBytes: Int
    private let next = NIOLockedValueBox(0)

    init(
        processor: any ExchangeProcessor, loops: [any EventLoop], observer: any ExchangeObserver, renderer: any ErrorRenderer,
        limits: ListenerLimits, ingress: (host: String, port: Int), maxResponseBytes: Int = 16 << 20
    ) {
        self.ingress = ingress
        self.processor = processor
        self.loops = loops
        self.observer = observer
        self.renderer = renderer
        self.limits = limits
        self.maxResponseBytes = maxResponseBytes
    }

    /// Runs the request and returns the response, or why none came back whole. Cancelling the
    /// calling task is the caller leaving: the function's work is let go, as for a client that hung up.
    public func invoke(_ request: Request) async -> Result<LocalExchange.Response, LocalInvocationFailure> {
        var headers = HTTPHeaders()
        headers.add(name: "host", value: request.host)
        for (name, value) in request.headers where !Self.framedByGatehouse(name) { headers.add(name: name, value: value) }
        let bodyBytes = request.body?.readableBytes ?? 0
        guard bodyBytes <= limits.maxBodyBytes else {
            return .failure(.refused(GatehouseError(.bodyTooLarge, detail: "request body of \(bodyBytes) bytes exceeds \(limits.maxBodyBytes)")))
        }
        if bodyBytes > 0 || [.POST, .PUT, .PATCH].contains(request.method) { headers.add(name: "content-length", value: String(bodyBytes)) }
        let received = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.path, headers: headers)
        let head: HTTPRequestHead
        switch RequestTarget.originForm(received).map(RequestHeadCheck.check) {
        case .success(let checked)?: head = checked
        case .failure(let error)?: return .failure(.refused(error))
        case nil: return .failure(.refused(GatehouseError(.badRequest, detail: "the path is neither origin- nor absolute-form")))
        }

        let index = next.withLockedValue { value in
            defer { value = (value + 1) % max(1, loops.count) }
            return value
        }
        let loop = loops[index]
        let exchange = NIOLoopBoundBox<LocalExchange?>.makeEmptyBox(valueType: LocalExchange.self, eventLoop: loop)
        let cancelled = NIOLockedValueBox(false)
        let (processor, observer, renderer, maxResponseBytes, ingress) = (processor, observer, renderer, maxResponseBytes, ingress)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<LocalExchange.Response, LocalInvocationFailure>, Never>) in
                loop.execute {
                    var random = RequestIdentifier.Generator()
                    let requestId = RequestIdentifier.accept(head.headers.first(name: "x-request-id")) ?? RequestIdentifier.generate(using: &random)
                    var record = RequestRecord(
                        requestId: requestId, startWallNanos: WallClock.nanosSinceEpoch(), start: .now, method: head.method.rawValue,
                        path: head.uri, httpProtocol: "HTTP/1.1", authority: head.headers.first(name: "host") ?? "")
                    record.userAgent = head.headers.first(name: "user-agent")
                    record.trace = TraceContext.extract(from: head.headers, using: &random)
                    record.destinationAddress = ingress.host
                    record.destinationPort = ingress.port
                    if let peer = request.peer {
                        record.peer = peer
                        record.overTLS = true
                        record.viaMeshListener = true
                    }
                    let local = LocalExchange(
                        head: head, body: request.body, record: record, eventLoop: loop, loopIndex: index, renderer: renderer,
                        observer: observer, maxResponseBytes: maxResponseBytes
                    ) { result in
                        continuation.resume(returning: result.mapError { .incomplete($0) })
                    }
                    exchange.value = local
                    observer.exchangeBegan(&local.record)
                    processor.begin(local)
                }
            }
        } onCancel: {
            cancelled.withLockedValue { $0 = true }
            loop.execute { exchange.value?.cancel() }
        }
    }

    /// Framing is Gatehouse's to write (from the body it holds), never the caller's; and only
    /// Gatehouse says who a verified caller is (`x-forwarded-client-cert`, `x-gatehouse-assertion`) and what
    /// another node passes on (`NodeHop`), as on the ingress.
    private static func framedByGatehouse(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered == "content-length" || lowered == "transfer-encoding" || lowered == "host"
            || lowered == IdentityHeaders.clientCertificate || lowered == IdentityHeaders.assertion
            || NodeHop.requestHeaders.contains(lowered)
    }

}

/// Why an in-process invocation has no complete response.
public enum LocalInvocationFailure: Error, Sendable {
    /// Refused before any stage, as the listener would (the head check, the body limit).
    case refused(GatehouseError)
    case incomplete(LocalExchange.Failure)
}
