/// Istio's `OutlierDetection` (a DestinationRule's): an instance — or a remote function's endpoint —
/// that answers with consecutive errors is ejected (gets no requests) for `baseEjectionTime` times
/// the number of times it was ejected, then comes back.
public struct OutlierDetection: Hashable, Sendable {
    /// 5xx answers (and resets, timeouts) in a row that eject; nil: not counted. Istio's default 5.
    public var consecutive5xxErrors: Int?
    /// 502, 503, 504 (and resets, timeouts) in a row that eject; nil: not counted (Istio's default).
    public var consecutiveGatewayErrors: Int?
    /// Each `interval` an endpoint spends back without being ejected lowers its multiplier by one.
    public var interval: Duration
    public var baseEjectionTime: Duration
    /// The most instances ejected at once, as a percentage (Istio's 10); at least one may be.
    public var maxEjectionPercent: Int

    public init(
        consecutive5xxErrors: Int? = 5, consecutiveGatewayErrors: Int? = nil, interval: Duration = .seconds(10),
        baseEjectionTime: Duration = .seconds(30), maxEjectionPercent: Int = 10
    ) {
        self.consecutive5xxErrors = consecutive5xxErrors
        self.consecutiveGatewayErrors = consecutiveGatewayErrors
        self.interval = interval
        self.baseEjectionTime = baseEjectionTime
        self.maxEjectionPercent = maxEjectionPercent
    }

    /// Envoy's cap on one ejection's length (`max_ejection_time`).
    public static let maxEjectionTime: Duration = .seconds(300)

    /// Counts one endpoint's errors in a row and how often it was ejected (Envoy's multiplier).
    /// Answers that arrive while the endpoint is ejected are not given to it: the caller checks.
    public struct Tracker: Hashable, Sendable {
        var serverErrors = 0
        var gatewayErrors = 0
        public private(set) var ejections = 0
        /// When the last ejection ended (or will end): healthy intervals are counted from there.
        var lastReturn: ContinuousClock.Instant?

        public init() {}

        /// Records an answer (`status` nil: no answer — a reset, a timeout, a refused connection);
        /// true when this many errors in a row call for an ejection.
        public mutating func record(status: Int?, now: ContinuousClock.Instant, policy: OutlierDetection) -> Bool {
            if let lastReturn, ejections > 0, now > lastReturn {
                let healthy = Int((now - lastReturn) / policy.interval)
                if healthy > 0 {
                    ejections = max(0, ejections - healthy)
                    self.lastReturn = lastReturn + policy.interval * healthy
                }
            }
            let gateway = status.map { [502, 503, 504].contains($0) } ?? true
            let server = status.map { $0 >= 500 } ?? true
            serverErrors = server ? serverErrors + 1 : 0
            gatewayErrors = gateway ? gatewayErrors + 1 : 0
            return policy.consecutive5xxErrors.map { serverErrors >= $0 } == true
                || policy.consecutiveGatewayErrors.map { gatewayErrors >= $0 } == true
        }

        /// The endpoint is ejected now: how long for (the base time times its ejections, capped).
        public mutating func eject(now: ContinuousClock.Instant, policy: OutlierDetection) -> Duration {
            ejections += 1
            (serverErrors, gatewayErrors) = (0, 0)
            let time = min(policy.baseEjectionTime * ejections, OutlierDetection.maxEjectionTime)
            lastReturn = now + time
            return time
        }
    }
}
