/// Istio's `OutlierDetection` (a DestinationRule's): an instance — or a remote function's endpoint —
/// that answers with consecutive errors is ejected (gets no requests) for `baseEjectionTime` times
/// the number of times it was ejected, then comes back.
public struct OutlierDetection: Hashable, Sendable {
    /// 5xx answers (and resets) in a row that eject; nil: not counted. Istio's default 5.
    public var consecutive5xxErrors: Int?
    /// 502, 503, 504 (and resets) in a row that eject; nil: not counted (Istio's default).
    public var consecutiveGatewayErrors: Int?
    /// How often ejections are reconsidered (Istio's 10 s); returns are checked at least this often.
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

    /// Counts answers in a row for one endpoint and says when it is to be ejected.
    public struct Tracker: Hashable, Sendable {
        var serverErrors = 0
        var gatewayErrors = 0
        public private(set) var ejections = 0

        public init() {}

        /// Records an answer (`status` nil: the connection closed without one); true when the
        /// endpoint should be ejected now.
        public mutating func record(status: Int?, policy: OutlierDetection) -> Bool {
            let gateway = status.map { [502, 503, 504].contains($0) } ?? true
            let server = status.map { $0 >= 500 } ?? true
            serverErrors = server ? serverErrors + 1 : 0
            gatewayErrors = gateway ? gatewayErrors + 1 : 0
            let eject = policy.consecutive5xxErrors.map { serverErrors >= $0 } == true
                || policy.consecutiveGatewayErrors.map { gatewayErrors >= $0 } == true
            if eject { (serverErrors, gatewayErrors, ejections) = (0, 0, ejections + 1) }
            return eject
        }

        /// How long this ejection lasts: the base time times the ejections so far, capped.
        public func ejectionTime(_ policy: OutlierDetection) -> Duration {
            min(policy.baseEjectionTime * max(1, ejections), OutlierDetection.maxEjectionTime)
        }
    }
}
