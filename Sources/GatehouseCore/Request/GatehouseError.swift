/// An error Gatehouse raises while handling a request.
///
/// Equal by code. The `detail` is for the log and the access log only: the HTTP status, the
/// response flag and the message a caller sees are chosen from the code, once, at the edge.
public struct GatehouseError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let badRequest = Code("bad_request")
        public static let headersTooLarge = Code("headers_too_large")
        public static let bodyTooLarge = Code("body_too_large")
        public static let routeNotFound = Code("route_not_found")
        public static let queueFull = Code("queue_full")
        public static let functionUnavailable = Code("function_unavailable")
        public static let upstreamConnectFailure = Code("upstream_connect_failure")
        public static let upstreamReset = Code("upstream_reset")
        public static let upstreamTimeout = Code("upstream_timeout")
        /// The request as Gatehouse would forward it is not valid HTTP/1.1 (a header value it adds
        /// — a claim, a certificate's URI SAN — carries a control character).
        public static let invalidForwardedRequest = Code("invalid_forwarded_request")
        /// The response is not valid HTTP/1.1 (a header value with a control character): the
        /// caller gets Gatehouse's error response instead.
        public static let invalidResponse = Code("invalid_response")
        public static let shuttingDown = Code("shutting_down")
        /// A DENY policy matched.
        public static let deniedByPolicy = Code("denied_by_policy")
        /// ALLOW policies apply to the function and none matched.
        public static let notAllowedByPolicy = Code("not_allowed_by_policy")
        /// A STRICT PeerAuthentication applies and the caller came in plaintext.
        public static let mtlsRequired = Code("mtls_required")
        /// A DISABLE PeerAuthentication applies and the caller came over mutual TLS.
        public static let mtlsNotAccepted = Code("mtls_not_accepted")
        /// Too many requests wait on a suspended stage (token verification, an external authorizer).
        public static let overloaded = Code("overloaded")
        /// The request carries a JWT that RequestAuthentication refused (401).
        public static let invalidToken = Code("invalid_token")
        /// 401: a LoginPolicy applies and the caller has no session (an API client; a browser is redirected).
        public static let loginRequired = Code("login_required")
        /// 400: a login callback that cannot be completed (state invalid, expired or replayed; the provider refused).
        public static let loginRefused = Code("login_refused")
        /// 403: the person logged in, but the provider's `allowedDomains` / `allowedGroups` leave them out.
        public static let loginNotAllowed = Code("login_not_allowed")
        /// 502: the identity provider could not be reached or answered nonsense.
        public static let loginProviderUnavailable = Code("login_provider_unavailable")
        /// A CUSTOM policy's external authorizer denied the request (its status is sent).
        public static let deniedByExternalAuthorizer = Code("denied_by_external_authorizer")
        /// A CUSTOM policy's external authorizer could not be asked (`statusOnError` is sent).
        public static let externalAuthorizerError = Code("external_authorizer_error")
        /// A RateLimitPolicy's token bucket is empty (429).
        public static let rateLimited = Code("rate_limited")
        /// A RateLimitPolicy's cap on requests in flight is reached (429).
        public static let concurrencyLimited = Code("concurrency_limited")
        /// The request made `Mesh.spec.maxHops` hops through Gatehouse (508): a loop of calls.
        public static let hopLimitExceeded = Code("hop_limit_exceeded")
        /// A transfer coding other than `chunked` (Envoy answers these 501 too).
        public static let unsupportedTransferCoding = Code("unsupported_transfer_coding")
        /// An `Upgrade` to a protocol Gatehouse does not proxy (Envoy: 403 `upgrade_failed`).
        public static let upgradeRefused = Code("upgrade_refused")
        /// The request body stopped arriving for longer than the body idle timeout.
        public static let requestTimeout = Code("request_timeout")
        /// The request is not a CloudEvent Gatehouse accepts (400; `reason` names what is wrong).
        public static let invalidEvent = Code("invalid_event")
        /// No EventPolicy on the Broker allows this sender or event (403).
        public static let deniedByEventPolicy = Code("denied_by_event_policy")
        /// The event store is at its bound (503, retry later).
        public static let eventStoreFull = Code("event_store_full")
        /// The event could not be stored (503): nothing was acknowledged.
        public static let eventStoreFailed = Code("event_store_failed")
    }

    public var code: Code
    public var detail: String
    /// How long the caller should wait before trying again (sent as `Retry-After`).
    public var retryAfter: Duration?
    /// A short code that is safe to show the caller (`jwt_expired`), sent with the error.
    public var reason: String?
    /// The response to send instead of Gatehouse's own (an external authorizer's denial).
    public var response: PassedResponse?
    /// Headers added to Gatehouse's own response (`x-ratelimit-*`).
    public var headers: [(name: String, value: String)]

    public init(
        _ code: Code, detail: String, retryAfter: Duration? = nil, reason: String? = nil, response: PassedResponse? = nil,
        headers: [(name: String, value: String)] = []
    ) {
        self.headers = headers
        self.code = code
        self.detail = detail
        self.retryAfter = retryAfter
        self.reason = reason
        self.response = response
    }

    /// A response Gatehouse passes on as another component wrote it.
    public struct PassedResponse: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: String

        public init(status: Int, headers: [(name: String, value: String)], body: String) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(detail)" }
}
