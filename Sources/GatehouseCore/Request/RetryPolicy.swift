/// Istio's `HTTPRetry` with Envoy's `retryOn` policies: what a failed attempt may be retried on,
/// how many times, and how long each attempt may take. All attempts share the route's timeout.
public struct RetryPolicy: Hashable, Sendable {
    public enum Condition: String, Hashable, Sendable, CaseIterable {
        /// Any 5xx response, a reset, or a connect failure.
        case fiveXX = "5xx"
        /// 502, 503, 504, or a connect failure.
        case gatewayError = "gateway-error"
        case connectFailure = "connect-failure"
        /// The connection closed before a response began.
        case reset
        /// 409.
        case retriable4xx = "retriable-4xx"
        /// The status codes listed beside the conditions.
        case retriableStatusCodes = "retriable-status-codes"
        /// HTTP/2 REFUSED_STREAM: accepted; Gatehouse speaks HTTP/1.1 to functions, so it never occurs.
        case refusedStream = "refused-stream"
    }

    /// Retries after the first attempt.
    public var attempts: Int
    public var perTryTimeout: Duration?
    public var conditions: Set<Condition>
    /// Numbers in `retryOn` (`retriable-status-codes`).
    public var statusCodes: Set<Int>

    public init(attempts: Int, perTryTimeout: Duration? = nil, conditions: Set<Condition> = [.connectFailure, .refusedStream], statusCodes: Set<Int> = [503]) {
        self.attempts = attempts
        self.perTryTimeout = perTryTimeout
        self.conditions = conditions
        self.statusCodes = statusCodes
    }

    /// Whether a response with `status` is retried.
    public func retries(status: Int) -> Bool {
        if conditions.contains(.fiveXX), (500...599).contains(status) { return true }
        if conditions.contains(.gatewayError), [502, 503, 504].contains(status) { return true }
        if conditions.contains(.retriable4xx), status == 409 { return true }
        return conditions.contains(.retriableStatusCodes) && statusCodes.contains(status)
    }

    /// Whether a connection closed before any response is retried.
    public var retriesReset: Bool { !conditions.isDisjoint(with: [.reset, .fiveXX]) }

    /// Whether a connection that could not be made is retried.
    public var retriesConnectFailure: Bool { !conditions.isDisjoint(with: [.connectFailure, .fiveXX, .gatewayError]) }
}
