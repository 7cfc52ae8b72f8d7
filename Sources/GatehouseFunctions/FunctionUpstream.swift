import GatehouseCore
import NIOCore

/// What a forwarded request leases its instance from: a function's pool of processes
/// (`FunctionPool`) or a remote function's endpoint (`RemoteFunction`).
public protocol FunctionUpstream: AnyObject, Sendable {
    var spec: FunctionSpec { get }
    /// `spec.timeout` and `spec.remote`, read per request: through the protocol, `spec` copies the
    /// whole spec (every field retained and released) to read one.
    var timeout: Duration { get }
    var remote: RemoteEndpoint? { get }
    /// An instance at once, a queued wait (the callback runs on `loop`), or a refusal.
    func acquire(on loop: any EventLoop, callback: @escaping FunctionPool.LeaseCallback) -> FunctionPool.Acquired
    func release(_ lease: InstanceLease)
    /// A waiting request gave up; false when it was already answered.
    @discardableResult func cancelWaiting(_ waiterID: Int) -> Bool
    /// Connecting to the instance failed.
    func reportUnhealthy(_ instance: FunctionInstance)
    /// The instance answered with `status` (nil: its connection closed without an answer): outlier detection.
    func reportAnswer(_ instance: FunctionInstance, status: Int?)
}

extension FunctionPool: FunctionUpstream {
    public var timeout: Duration { spec.timeout }
    public var remote: RemoteEndpoint? { spec.remote }
}
