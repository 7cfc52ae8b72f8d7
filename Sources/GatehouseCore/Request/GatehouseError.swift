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
        public static let shuttingDown = Code("shutting_down")
        /// A DENY policy matched.
        public static let deniedByPolicy = Code("denied_by_policy")
        /// ALLOW policies apply to the function and none matched.
        public static let notAllowedByPolicy = Code("not_allowed_by_policy")
    }

    public var code: Code
    public var detail: String
    /// How long the caller should wait before trying again (sent as `Retry-After`).
    public var retryAfter: Duration?

    public init(_ code: Code, detail: String, retryAfter: Duration? = nil) {
        self.code = code
        self.detail = detail
        self.retryAfter = retryAfter
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(detail)" }
}
