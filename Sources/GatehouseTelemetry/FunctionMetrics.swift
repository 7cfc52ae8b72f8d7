import GatehouseCore
import GatehouseFunctions
import NIOConcurrencyHelpers
import Prometheus

/// Function lifecycle metrics: cold starts and the state of each function's pool, labelled by
/// function, namespace and revision.
final class FunctionMetrics: FunctionLifecycleObserver, Sendable {
    static let coldStartBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    /// One function's metrics, handed to its pool.
    struct Handles: FunctionPoolObserver {
        let coldStarts: Counter
        let coldStartDuration: ValueHistogram
        let instances: Gauge
        let queueDepth: Gauge
        let inflight: Gauge

        func coldStartCompleted(duration: Duration) {
            coldStarts.increment()
            coldStartDuration.record(Double(duration.nanosecondsClamped) / 1e9)
        }

        func poolChanged(instances: Int, queueDepth: Int, inflight: Int) {
            self.instances.set(Double(instances))
            self.queueDepth.set(Double(queueDepth))
            self.inflight.set(Double(inflight))
        }
    }

    private let registry: PrometheusCollectorRegistry
    /// Made the first time a revision's pool asks, then reused (the registry returns the same series).
    private let handles = NIOLockedValueBox<[String: Handles]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func observer(for spec: FunctionSpec) -> any FunctionPoolObserver {
        let id = "\(spec.namespace)/\(spec.revision)"
        return handles.withLockedValue { handles in
            if let existing = handles[id] { return existing }
            let made = makeHandles(for: spec)
            handles[id] = made
            return made
        }
    }

    private func makeHandles(for spec: FunctionSpec) -> Handles {
        let labels = [("function", spec.name), ("namespace", spec.namespace), ("revision", spec.revision)]
        return Handles(
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
}
