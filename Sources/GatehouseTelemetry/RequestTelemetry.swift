import GatehouseCore
import GatehouseFunctions
import Prometheus

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

    /// Called once per request, on its event loop, when its exchange ends.
    public func requestFinished(_ record: RequestRecord) {
        istio.record(record)
        accessLog.append(record)
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
