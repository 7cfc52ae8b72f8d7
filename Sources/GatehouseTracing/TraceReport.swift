/// One trace as the admin API serves it (`GET /api/v1/traces/ID`) and `gatehouse trace` reads it.
public struct TraceReport: Codable, Sendable {
    public var traceId: String
    /// How many requests through Gatehouse the trace holds (an ingress hop, a mesh hop, …).
    public var requests: Int
    /// Every span, oldest first.
    public var spans: [FinishedSpan]

    public init(traceId: String, requests: Int, spans: [FinishedSpan]) {
        self.traceId = traceId
        self.requests = requests
        self.spans = spans
    }
}

/// One kept request in a listing (`GET /api/v1/traces?slow=…&errors=…`, `gatehouse trace --slow`).
public struct TraceSummary: Codable, Sendable {
    public var traceId: String
    public var requestId: String
    public var startTime: String
    public var method: String
    public var host: String
    public var path: String
    public var status: Int
    public var durationMs: Double
    public var function: String?
    public var listener: String
    public var failed: Bool
    public var reason: String?

    public init(
        traceId: String, requestId: String, startTime: String, method: String, host: String, path: String, status: Int,
        durationMs: Double, function: String?, listener: String, failed: Bool, reason: String?
    ) {
        self.traceId = traceId
        self.requestId = requestId
        self.startTime = startTime
        self.method = method
        self.host = host
        self.path = path
        self.status = status
        self.durationMs = durationMs
        self.function = function
        self.listener = listener
        self.failed = failed
        self.reason = reason
    }
}
