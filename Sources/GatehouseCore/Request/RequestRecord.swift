/// What Gatehouse learned about one request, filled in by the stages as it passes through.
///
/// Telemetry writes the access log line and the metrics from it once, when the exchange ends;
/// no stage logs on its own behalf.
public struct RequestRecord: Sendable {
    /// From the caller's `X-Request-Id` when it is sane, otherwise generated.
    public var requestId: String
    /// The request's place in its distributed trace: taken from the caller's headers or started at
    /// the front (`TraceContext.extract`); `.none` for a record that is only explained.
    public var trace = TraceContext.none
    /// Timed work under the gateway's span (queueing, a cold start, attempts, …), in start order.
    public var spans: [RecordedSpan] = []
    /// Wall-clock start (for `start_time`), nanoseconds since the Unix epoch.
    public var startWallNanos: Int64
    /// Monotonic start, for durations.
    public var start: ContinuousClock.Instant
    public var method: String
    /// Normalized once, here at the front; see `RequestPath`.
    public var path: RequestPath
    public var httpProtocol: String
    /// The `Host` header in canonical form (lower case, no trailing dot; see `RequestHeadCheck`), with its port.
    public var authority: String {
        didSet { host = Self.withoutPort(authority) }
    }
    /// `authority` without its port: what routing and policy `hosts` match.
    public private(set) var host: String
    public var userAgent: String?
    /// The `X-Forwarded-For` value sent on to the function.
    public var forwardedFor: String?
    public var downstreamAddress: String?
    /// The listener's address and port the request arrived on.
    public var destinationAddress: String?
    public var destinationPort = 0

    /// Where the request is going, once routing has decided.
    public var destination: FunctionDestination?
    /// The peer's verified workload identity, when the request came over mutual TLS.
    public var peer: PeerIdentity?
    /// The request came over TLS (the mesh listener, or an HTTPS gateway server).
    public var overTLS = false
    /// The server name (SNI) the client sent in its TLS handshake, lowercase; nil over plaintext or
    /// when it sent none. Read by `when: connection.sni`.
    public var sni: String?
    /// The request came in on the mesh listener (mesh traffic, for VirtualService `gateways`).
    public var viaMeshListener = false
    /// The JWT RequestAuthentication verified, when the request carried one.
    public var jwt: VerifiedJWT?
    /// Header changes for the function, made by authentication and authorization.
    public var upstreamHeaders = HeaderEdits()
    /// Authorization's decision, when any policy applied to the destination.
    public var decision: AccessDecision?
    /// The VirtualService route that matched (its `name`, or `VIRTUALSERVICE.INDEX`): `route_name`.
    public var routeName: String?
    /// The route's `timeout`, capped by the function's.
    public var routeTimeout: Duration?
    /// The route's retry policy (nil: Istio's default, retrying connect failures).
    public var retryPolicy: RetryPolicy?
    /// Attempts made at the function (1 + retries); 0 when none was.
    public var attempts = 0
    /// VirtualService `mirrors` drawn for this request: a copy goes to each, answers dropped.
    public var mirrors: [FunctionDestination] = []
    /// Run once when the exchange ends, however it ends (a caller's in-flight count given back).
    public var onFinish: [@Sendable () -> Void] = []
    /// The route's response header operations, applied to the function's response.
    public var responseHeaders = HeaderEdits()
    /// `127.0.0.1:PORT` of the instance that served it.
    public var upstreamHost: String?
    public var upstreamStart: ContinuousClock.Instant?
    public var upstreamServiceTime: Duration?
    /// The request waited for an instance to start.
    public var coldStart = false
    /// A gRPC call (`content-type: application/grpc…`): refusals are gRPC statuses, `grpc-timeout`
    /// bounds it, and metrics say `request_protocol="grpc"`.
    public var isGRPC = false
    /// The call's `grpc-status` (from the function's trailers, or Gatehouse's own refusal).
    public var grpcStatus: Int?

    public var bytesReceived = 0
    public var bytesSent = 0
    /// 0 until a response head has been sent (stays 0 when the client left first, as in Envoy).
    public var responseCode = 0
    public var responseFlags: ResponseFlags = []
    /// Why Gatehouse refused or failed the request: for logs only, never sent to the caller.
    public var failure: GatehouseError?
    /// `response_code_details` of a reply Gatehouse made itself (`GatewayReply.details`).
    public var replyDetails: String?
    /// What later stages and sinks keep about the request without a field here (see `RecordExtensions`).
    public var extensions = RecordExtensions()
    public var duration: Duration?

    public init(
        requestId: String, startWallNanos: Int64, start: ContinuousClock.Instant, method: String,
        path: String, httpProtocol: String, authority: String
    ) {
        self.requestId = requestId
        self.startWallNanos = startWallNanos
        self.start = start
        self.method = method
        self.path = RequestPath(path)
        self.httpProtocol = httpProtocol
        self.authority = authority
        self.host = Self.withoutPort(authority)
    }

    /// `host[:port]` or `[v6][:port]` without the port (and without a trailing dot).
    public static func withoutPort(_ authority: String) -> String {
        let bytes = authority.utf8
        var end = bytes.endIndex
        if bytes.first == UInt8(ascii: "[") {
            if let close = bytes.firstIndex(of: UInt8(ascii: "]")) { end = bytes.index(after: close) }
        } else if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        if end > bytes.startIndex, bytes[bytes.index(before: end)] == UInt8(ascii: ".") {
            end = bytes.index(before: end)
        }
        return end == bytes.endIndex ? authority : String(authority[..<end])
    }
}

/// A routed-to function revision as the request path sees it: immutable, built once per config snapshot.
public final class FunctionDestination: Sendable {
    /// The revision's spec.
    public let spec: FunctionSpec
    public let key: FunctionKey
    public let revisionKey: RevisionKey
    public let revision: String
    public let serviceHost: String
    /// The function's SPIFFE ID (`spiffe://TRUST_DOMAIN/ns/NS/sa/SERVICE_ACCOUNT`): who it is to its callers.
    public let identity: String
    /// Its tracing, access logging and metrics, resolved from the Telemetry resources when the
    /// snapshot was built (`TelemetryPolicies`).
    public let telemetry: TelemetryPolicy

    public init(spec: FunctionSpec, trustDomain: String = "cluster.local", telemetry: TelemetryPolicy = .default) {
        self.spec = spec
        self.key = spec.key
        self.revisionKey = spec.revisionKey
        self.revision = spec.revision
        self.serviceHost = spec.serviceHost
        self.identity = "spiffe://\(trustDomain)/ns/\(spec.namespace)/sa/\(spec.serviceAccount)"
        self.telemetry = telemetry
    }
}
