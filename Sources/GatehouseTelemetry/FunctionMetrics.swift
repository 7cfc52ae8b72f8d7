import GatehouseCore
import GatehouseFunctions
import NIOConcurrencyHelpers
import Prometheus

/// Function lifecycle metrics: cold starts and the state of each function's pool, labelled by
/// function, namespace and revision.
final class FunctionMetrics: FunctionLifecycleObserver, Sendable {
    static let coldStartBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    private struct Handles: Sendable {
        let coldStarts: Counter
        let coldStartDuration: ValueHistogram
        let instances: Gauge
        let queueDepth: Gauge
        let inflight: Gauge
    }

    private let handles: [FunctionKey: Handles]

    init(registry: PrometheusCollectorRegistry, functions: [FunctionSpec]) {
        var handles: [FunctionKey: Handles] = [:]
        for spec in functions {
            let labels = [("function", spec.name), ("namespace", spec.namespace), ("revision", spec.revision)]
            handles[spec.key] = Handles(
                coldStarts: registry.makeCounter(
                    descriptor: .named("gatehouse_function_cold_starts_total", help: "Instances started to serve requests or to keep minInstances warm."), labels: labels),
                coldStartDuration: registry.makeValueHistogram(
                    descriptor: .named("gatehouse_function_cold_start_duration_seconds", help: "Time from spawning an instance to it accepting connections on $PORT, in seconds."), labels: labels, buckets: Self.coldStartBuckets),
                instances: registry.makeGauge(
                    descriptor: .named("gatehouse_function_instances", help: "Instances starting or ready."), labels: labels),
                queueDepth: registry.makeGauge(
                    descriptor: .named("gatehouse_function_queue_depth", help: "Requests waiting for an instance."), labels: labels),
                inflight: registry.makeGauge(
                    descriptor: .named("gatehouse_function_inflight_requests", help: "Requests being served by an instance."), labels: labels))
        }
        self.handles = handles
    }

    func coldStartCompleted(_ spec: FunctionSpec, duration: Duration) {
        guard let handles = handles[spec.key] else { return }
        handles.coldStarts.increment()
        handles.coldStartDuration.record(Double(duration.nanosecondsClamped) / 1e9)
    }

    func poolChanged(_ spec: FunctionSpec, instances: Int, queueDepth: Int, inflight: Int) {
        guard let handles = handles[spec.key] else { return }
        handles.instances.set(Double(instances))
        handles.queueDepth.set(Double(queueDepth))
        handles.inflight.set(Double(inflight))
    }
}
