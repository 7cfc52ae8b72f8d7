import GatehouseCore

/// Told about a function's lifecycle, for metrics. Called from any thread; must not block.
public protocol FunctionLifecycleObserver: Sendable {
    func coldStartCompleted(_ spec: FunctionSpec, duration: Duration)
    func poolChanged(_ spec: FunctionSpec, instances: Int, queueDepth: Int, inflight: Int)
}
