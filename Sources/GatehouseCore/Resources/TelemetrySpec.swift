/// An Istio `Telemetry` (`telemetry.istio.io` v1 / v1alpha1) as decoded: which workloads it is for
/// and its tracing, access logging and metrics rules, with "not written" kept apart from a value
/// (nil), because Istio merges levels field by field (`TelemetryPolicies`).
public struct TelemetrySpec: Hashable, Sendable {
    public var namespace: String
    public var name: String
    /// `selector.matchLabels`; nil (or empty, as in Istio): not a workload selector.
    public var selector: [String: String]?
    /// `targetRefs` naming functions (kind `Service` or `Function`) in the Telemetry's namespace.
    public var targetNames: [String] = []
    /// Rules whose `match.mode` is `CLIENT` are left out when decoding: Gatehouse reports as the server.
    public var tracing: [Tracing] = []
    public var accessLogging: [AccessLogging] = []
    public var metrics: [Metrics] = []
    public var source: SourceLocation?

    public init(namespace: String, name: String, source: SourceLocation? = nil) {
        self.namespace = namespace
        self.name = name
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }

    /// Neither a selector nor targetRefs: the namespace's Telemetry (the mesh's, in the root namespace).
    public var isNamespaceWide: Bool { (selector ?? [:]).isEmpty && targetNames.isEmpty }

    /// Whether this (workload-level) Telemetry picks the revision: by the labels its instances carry,
    /// or by name through targetRefs.
    public func selects(_ revision: FunctionSpec) -> Bool {
        guard revision.namespace == namespace, !isNamespaceWide else { return false }
        if !targetNames.isEmpty { return targetNames.contains(revision.name) }
        let labels = revision.revisionLabels
        return (selector ?? [:]).allSatisfy { labels[$0.key] == $0.value }
    }

    public struct Tracing: Hashable, Sendable {
        public var providers: [String] = []
        public var randomSamplingPercentage: Double?
        public var disableSpanReporting: Bool?
        /// Replaces the parent's tags whole when written (Istio's shallow merge).
        public var customTags: [CustomTag]?

        public init() {}
    }

    public struct AccessLogging: Hashable, Sendable {
        public var providers: [String] = []
        public var disabled: Bool?
        public var filter: TelemetryExpression?

        public init() {}
    }

    public struct Metrics: Hashable, Sendable {
        public var providers: [String] = []
        public var overrides: [MetricsOverride] = []

        public init() {}
    }

    public struct MetricsOverride: Hashable, Sendable {
        /// The metrics it is for: one, or every one (`ALL_METRICS`, or no `match`); none for a
        /// metric Gatehouse does not record (a TCP or gRPC one, a `customMetric`).
        public var metrics: [IstioMetric]
        /// `match.metric: ALL_METRICS` written out: disabling it turns the provider's metrics off
        /// until a later override for the same provider turns them back on (Istio's rule).
        public var matchesAll: Bool
        public var disabled: Bool?
        public var tagOverrides: [TagOverride] = []

        public init(metrics: [IstioMetric], matchesAll: Bool, disabled: Bool? = nil, tagOverrides: [TagOverride] = []) {
            self.metrics = metrics
            self.matchesAll = matchesAll
            self.disabled = disabled
            self.tagOverrides = tagOverrides
        }
    }
}

/// Istio's standard HTTP metrics (`MetricSelector.IstioMetric`) and Gatehouse's series for each.
public enum IstioMetric: String, Hashable, Sendable, CaseIterable {
    case requestCount = "REQUEST_COUNT"
    case requestDuration = "REQUEST_DURATION"
    case requestSize = "REQUEST_SIZE"
    case responseSize = "RESPONSE_SIZE"

    public var prometheusName: String {
        switch self {
        case .requestCount: "istio_requests_total"
        case .requestDuration: "istio_request_duration_milliseconds"
        case .requestSize: "istio_request_bytes"
        case .responseSize: "istio_response_bytes"
        }
    }

    /// Istio's TCP and gRPC metrics: accepted, but Gatehouse records none of them.
    public static let notRecorded = [
        "TCP_OPENED_CONNECTIONS", "TCP_CLOSED_CONNECTIONS", "TCP_SENT_BYTES", "TCP_RECEIVED_BYTES",
        "GRPC_REQUEST_MESSAGES", "GRPC_RESPONSE_MESSAGES",
    ]
}

/// `tagOverrides.NAME`: the label removed, or set from the request.
public struct TagOverride: Hashable, Sendable {
    public var name: String
    public var operation: Operation

    public enum Operation: Hashable, Sendable {
        case remove
        case upsert(TelemetryOperand)
    }

    public init(name: String, operation: Operation) {
        self.name = name
        self.operation = operation
    }
}
