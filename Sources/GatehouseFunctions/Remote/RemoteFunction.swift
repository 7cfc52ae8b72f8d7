import GatehouseCore
import NIOConcurrencyHelpers
import NIOCore

/// A remote function (`spec.remote.url`): an endpoint that is always there, so nothing starts,
/// scales or queues. Its one `FunctionInstance` stands for the endpoint and holds the kept-alive
/// connections (over TLS as its DestinationRule says).
///
/// Requests in flight to it are capped at `maxInstances × concurrency`, the most a process
/// function would take; past that, 503 with `UO` at once: the remote does its own queueing.
public final class RemoteFunction: FunctionUpstream {
    public let spec: FunctionSpec
    public let endpoint: RemoteEndpoint
    public var timeout: Duration { spec.timeout }
    public var remote: RemoteEndpoint? { spec.remote }
    /// The TLS mode in use, for `describe` and the log: `DISABLE`, `SIMPLE`, `MUTUAL`, `ISTIO_MUTUAL`.
    public let tlsMode: String
    private let instance: FunctionInstance
    private let inFlight: ConcurrencyLimit
    /// Outlier detection for the one endpoint: ejected, it is refused (503 `UH`) until the time passes.
    private let health = NIOLockedValueBox<(tracker: OutlierDetection.Tracker, ejectedUntil: ContinuousClock.Instant?)>((.init(), nil))

    public init(spec: FunctionSpec, endpoint: RemoteEndpoint, tls: UpstreamTLS?, tlsMode: String, eventLoops: [any EventLoop]) {
        self.spec = spec
        self.endpoint = endpoint
        self.tlsMode = tlsMode
        instance = FunctionInstance(
            id: 0, spec: spec, port: endpoint.port, upstreamHost: endpoint.authority,
            target: UpstreamTarget(address: .host(endpoint.host, port: endpoint.port), tls: tls), eventLoops: eventLoops)
        inFlight = ConcurrencyLimit(limit: spec.scaling.maxInstances * spec.scaling.concurrency)
    }

    public func acquire(on loop: any EventLoop, callback: @escaping FunctionPool.LeaseCallback) -> FunctionPool.Acquired {
        if let until = health.withLockedValue({ $0.ejectedUntil }), until > .now {
            return .rejected(GatehouseError(
                .functionUnavailable, detail: "the remote endpoint is ejected by outlier detection", retryAfter: until - .now))
        }
        guard inFlight.enter() else {
            return .rejected(GatehouseError(
                .queueFull, detail: "\(inFlight.limit) requests already in flight to the remote function", retryAfter: .seconds(1)))
        }
        return .leased(InstanceLease(instance: instance, coldStart: false))
    }

    public func release(_ lease: InstanceLease) {
        inFlight.leave()
    }

    public func cancelWaiting(_ waiterID: Int) -> Bool { false }

    /// Nothing to replace (the next attempt opens a new connection), but the failed attempt's lease
    /// ends here: the forwarder drops it without releasing it, as a pool's unhealthy instance takes its
    /// lease with it. For outlier detection it is an error like a reset.
    public func reportUnhealthy(_ instance: FunctionInstance) {
        inFlight.leave()
        reportAnswer(instance, status: nil)
    }

    public func reportAnswer(_ instance: FunctionInstance, status: Int?) {
        guard let policy = spec.outlierDetection else { return }
        let now = ContinuousClock.now
        health.withLockedValue { health in
            // Answers to requests sent before the ejection do not lengthen it.
            if let until = health.ejectedUntil, until > now { return }
            if health.tracker.record(status: status, now: now, policy: policy) {
                health.ejectedUntil = now + health.tracker.eject(now: now, policy: policy)
            }
        }
    }

    /// Its kept-alive connections are closed; requests using one finish first.
    public func close() {
        for box in instance.connectionPools {
            box.eventLoop.execute { box.value.closeAll() }
        }
    }
}
