/// What telemetry one function revision gets, resolved from the Telemetry resources and the Mesh
/// when a snapshot is built (`TelemetryPolicies`): a request reads it from its destination and
/// computes nothing. Requests that reach no function get the mesh-wide policy.
public struct TelemetryPolicy: Sendable {
    public var tracing: TracingPolicy
    public var accessLogging: AccessLoggingPolicy
    public var metrics: MetricsPolicy

    public init(tracing: TracingPolicy = .init(), accessLogging: AccessLoggingPolicy = .init(), metrics: MetricsPolicy = .init()) {
        self.tracing = tracing
        self.accessLogging = accessLogging
        self.metrics = metrics
    }

    /// No Telemetry and no Mesh settings: no tracing, the access log and every metric on.
    public static let `default` = TelemetryPolicy()
}

/// Istio's tracing for one workload (server side): where spans go, how many, with which tags.
/// Gatehouse decides and exports spans elsewhere; this only says what the configuration asks for.
public struct TracingPolicy: Sendable {
    /// The collector spans are exported to: at most one, as in Istio (the first provider named).
    /// Empty: tracing is off.
    public var providers: [OpenTelemetryProvider]
    /// Percentage of requests (0–100) whose traces are sampled: the Telemetry's
    /// `randomSamplingPercentage`, else the Mesh's `defaultConfig.tracing.sampling` (default 1).
    public var randomSamplingPercentage: Double
    /// Attributes added to every span, in the order written.
    public var customTags: [CustomTag]
    /// `disableSpanReporting`: spans are neither reported nor exported (propagation goes on).
    public var disableSpanReporting: Bool

    public init(
        providers: [OpenTelemetryProvider] = [], randomSamplingPercentage: Double = 1.0, customTags: [CustomTag] = [],
        disableSpanReporting: Bool = false
    ) {
        self.providers = providers
        self.randomSamplingPercentage = randomSamplingPercentage
        self.customTags = customTags
        self.disableSpanReporting = disableSpanReporting
    }

    /// Whether spans are exported at all: a provider, and reporting not disabled.
    public var reportsSpans: Bool { !providers.isEmpty && !disableSpanReporting }
}

/// A span attribute from a Telemetry's `customTags`.
public struct CustomTag: Hashable, Sendable {
    public var name: String
    public var source: Source

    public enum Source: Hashable, Sendable {
        /// `literal.value`.
        case literal(String)
        /// `header.name` (lower-cased), `header.defaultValue` when the request lacks it.
        case header(name: String, defaultValue: String?)
        /// `environment.name`, `environment.defaultValue` when unset: Gatehouse's own environment,
        /// read once (the proxy's, in Istio).
        case environment(name: String, defaultValue: String?)
    }

    public init(name: String, source: Source) {
        self.name = name
        self.source = source
    }
}

/// Whether the access log line is written for a workload, and for which requests.
public struct AccessLoggingPolicy: Sendable {
    /// The built-in `envoy` provider (Gatehouse's access log) is in scope and not disabled.
    public var isEnabled: Bool
    /// `filter.expression`: only matching requests are logged; nil: all.
    public var filter: TelemetryExpression?

    public init(isEnabled: Bool = true, filter: TelemetryExpression? = nil) {
        self.isEnabled = isEnabled
        self.filter = filter
    }

    /// Whether this finished request gets a line.
    public func logs(_ record: RequestRecord) -> Bool {
        guard isEnabled else { return false }
        guard let filter else { return true }
        return filter.matches(record)
    }
}

/// Which of Istio's standard metrics are recorded for a workload, and their label changes.
public struct MetricsPolicy: Sendable {
    /// Metrics not recorded (every one when `prometheus` is not in scope).
    public var disabled: Set<IstioMetric>
    /// Label changes per metric, applied in name order (Istio sorts them).
    public var tagOverrides: [IstioMetric: [TagOverride]]

    public init(disabled: Set<IstioMetric> = [], tagOverrides: [IstioMetric: [TagOverride]] = [:]) {
        self.disabled = disabled
        self.tagOverrides = tagOverrides
    }

    public func records(_ metric: IstioMetric) -> Bool { !disabled.contains(metric) }

    /// Whether any override reads the request (so series differ by more than the standard labels).
    public var readsRequest: Bool {
        tagOverrides.values.contains { overrides in
            overrides.contains { if case .upsert(.attribute) = $0.operation { true } else { false } }
        }
    }
}
