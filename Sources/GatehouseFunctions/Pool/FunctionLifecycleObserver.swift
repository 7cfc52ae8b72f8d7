import GatehouseCore

/// Where a function's lifecycle is reported, for metrics.
public protocol FunctionLifecycleObserver: Sendable {
    /// The observer for one function's pool, resolved once when the pool is made (so the
    /// per-request updates need no lookup).
    func observer(for spec: FunctionSpec) -> any FunctionPoolObserver
}

/// Told about one function's pool. Called from any thread, on the request path; must not block.
public protocol FunctionPoolObserver: Sendable {
    func coldStartCompleted(duration: Duration)
    func poolChanged(instances: Int, queueDepth: Int, inflight: Int)
}
