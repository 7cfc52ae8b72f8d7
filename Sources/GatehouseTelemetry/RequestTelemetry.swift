import GatehouseCore
import GatehouseFunctions
import Prometheus

/// The telemetry policy for requests that reach no function (a route miss), one per snapshot: an
/// object, so that metric series made under one snapshot's policy are not reused under another's.
public final class UnroutedTelemetry: Sendable {
    public let policy: TelemetryPolicy

    public init(policy: TelemetryPolicy) {
        self.policy = policy
    }

    public static let `default` = UnroutedTelemetry(policy: .default)
}

/// ⑦ Telemetry: metrics and the access log, written from the request's record once, when it ends.
public final class RequestTelemetry: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let accessLog: AccessLog
    private let istio: IstioMetrics
    private let functions: FunctionMetrics

    public init(registry: PrometheusCollectorRegistry, accessLog: AccessLog) {
        self.registry = registry
        self.accessLog = accessLog
        self.istio = IstioMetrics(registry: registry)
        self.functions = FunctionMetrics(registry: registry)
    }

    /// Receives cold starts and pool changes from the function runtime.
    public var lifecycleObserver: any FunctionLifecycleObserver { functions }

    /// Called once per request, on its event loop, when its exchange ends. The destination's
    /// telemetry policy decides what is recorded; a request that reached no function follows
    /// `unrouted` (the mesh-wide Telemetry of the snapshot it ran on).
    public func requestFinished(_ record: RequestRecord, unrouted: UnroutedTelemetry = .default) {
        let policy = record.destination?.telemetry ?? unrouted.policy
        istio.record(record, policy: policy.metrics, owner: unrouted)
        if policy.accessLogging.logs(record) { accessLog.append(record) }
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
