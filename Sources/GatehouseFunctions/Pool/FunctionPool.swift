import Foundation
import GatehouseCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The activator for one function: leases instances to requests, queues requests while instances
/// start, and starts and stops instances as `InstancePoolStateMachine` decides.
///
/// Thread-safe: requests from every event loop share it. Callbacks for queued requests run on the
/// requesting loop.
public final class FunctionPool: Sendable {
    public typealias LeaseCallback = @Sendable (Result<InstanceLease, GatehouseError>) -> Void

    public let spec: FunctionSpec
    private let state: NIOLockedValueBox<State>
    private let launcher: any InstanceLauncher
    private let observer: any FunctionPoolObserver
    private let eventLoops: [any EventLoop]
    private let logger: Logger
    let stopGrace: Duration

    struct State {
        var machine: InstancePoolStateMachine
        var instances: [Int: FunctionInstance] = [:]
        var waiters: [Int: (loop: any EventLoop, callback: LeaseCallback)] = [:]
        var nextWaiterID = 1
        var startedAt: [Int: ContinuousClock.Instant] = [:]
        var lastColdStart: PoolStatus.ColdStart?
        var lastStartFailure: String?
    }

    init(
        spec: FunctionSpec, launcher: any InstanceLauncher, observer: any FunctionLifecycleObserver,
        eventLoops: [any EventLoop], stopGrace: Duration, logger: Logger
    ) {
        self.spec = spec
        self.launcher = launcher
        self.observer = observer.observer(for: spec)
        self.eventLoops = eventLoops
        self.stopGrace = stopGrace
        var logger = logger
        logger[metadataKey: "function"] = "\(spec.key)"
        self.logger = logger
        let configuration = InstancePoolStateMachine.Configuration(
            minInstances: spec.scaling.minInstances, maxInstances: spec.scaling.maxInstances,
            concurrency: spec.scaling.concurrency, maxQueue: spec.scaling.maxQueue, idleTimeout: spec.idleTimeout,
            startupTimeout: spec.startupTimeout, outlierDetection: spec.outlierDetection)
        self.state = NIOLockedValueBox(State(machine: InstancePoolStateMachine(configuration: configuration)))
    }

    public enum Acquired {
        case leased(InstanceLease)
        case waiting(id: Int)
        case rejected(GatehouseError)
    }

    /// Leases an instance at once when one has capacity; otherwise queues the request and calls
    /// `callback` on `loop` when an instance is ready (or the request is refused).
    public func acquire(on loop: any EventLoop, callback: @escaping LeaseCallback) -> Acquired {
        var effects = Effects()
        let acquired: Acquired = state.withLockedValue { state in
            let waiterID = state.nextWaiterID
            state.nextWaiterID += 1
            switch state.machine.acquire(waiterID, now: .now) {
            case .dispatch(let id):
                return .leased(InstanceLease(instance: state.instances[id]!, coldStart: false))
            case .wait(let starting):
                state.waiters[waiterID] = (loop, callback)
                effects.collect(starting.map { .start($0) }, state: &state, pool: self)
                effects.gauges = snapshot(state.machine)
                return .waiting(id: waiterID)
            case .reject(let rejection):
                return .rejected(Self.error(for: rejection))
            }
        }
        effects.run(pool: self)
        return acquired
    }

    /// Gives a lease back; a waiting request may get the instance at once.
    public func release(_ lease: InstanceLease) {
        apply { state in state.machine.release(lease.instance.id, now: .now) }
    }

    /// A waiting request gave up. Returns false when it was already dispatched or refused.
    @discardableResult
    public func cancelWaiting(_ waiterID: Int) -> Bool {
        let cancelled = state.withLockedValue { state in
            guard state.machine.cancel(waiterID) else { return false }
            state.waiters[waiterID] = nil
            return true
        }
        if cancelled { reportGauges() }
        return cancelled
    }

    /// An instance's answer, for outlier detection (`status` nil: the connection closed without one).
    public func reportAnswer(_ instance: FunctionInstance, status: Int?) {
        guard spec.outlierDetection != nil else { return }
        apply { state in state.machine.instanceAnswered(instance.id, status: status, now: .now) }
    }

    /// Connecting to the instance failed although it was ready: replace it.
    public func reportUnhealthy(_ instance: FunctionInstance) {
        logger.warning("instance stopped accepting connections; replacing it", metadata: ["instance": "\(instance.id)"])
        apply { state in state.machine.instanceUnhealthy(instance.id, now: .now) }
    }

    // MARK: Called by the supervisor and the runtime

    func instanceReady(_ instance: FunctionInstance) {
        instance.markReady()
        var coldStart: Duration?
        apply { state in
            if let started = state.startedAt.removeValue(forKey: instance.id) {
                coldStart = .now - started
                state.lastColdStart = .init(at: Date(), duration: .now - started)
            }
            return state.machine.instanceReady(instance.id, now: .now)
        }
        if let coldStart {
            observer.coldStartCompleted(duration: coldStart)
            logger.info(
                "instance ready", metadata: ["instance": "\(instance.id)", "port": "\(instance.port)",
                                             "cold_start_ms": "\(coldStart.milliseconds)"])
        }
    }

    func instanceExited(_ instance: FunctionInstance, status: String) {
        var failure: InstancePoolStateMachine.StartFailure?
        apply { state in
            state.startedAt[instance.id] = nil
            let result = state.machine.instanceExited(instance.id, now: .now)
            failure = result.failure
            return result.actions
        }
        if failure != nil {
            logStartFailure(instance, reason: "exited before accepting connections on port \(instance.port) (\(status))")
        } else {
            logger.info("instance exited", metadata: ["instance": "\(instance.id)", "status": "\(status)"])
        }
    }

    func tick() {
        var timedOut: [FunctionInstance] = []
        apply { state in
            let result = state.machine.tick(now: .now)
            timedOut = result.timedOut.compactMap { state.instances[$0] }
            return result.actions
        }
        for instance in timedOut {
            logStartFailure(instance, reason: "did not accept connections on port \(instance.port) within \(spec.startupTimeout.gatehouseDescription)")
        }
    }

    func shutdown() {
        apply { state in state.machine.shutdown() }
    }

    /// Replaced by a new spec, or deleted: finish what was admitted, then stop every instance.
    func retire() {
        apply { state in state.machine.retire(now: .now) }
    }

    var isDrained: Bool { state.withLockedValue { $0.machine.isDrained } }

    /// Starts instances until `count` run, and keeps them (see `InstancePoolStateMachine.setMinimumInstances`).
    func warm(to count: Int) {
        apply { state in state.machine.setMinimumInstances(count, now: .now) }
    }

    /// Back to the spec's own `minInstances` — none while another node is the revision's home
    /// (`away`); extra instances stop when idle, as usual.
    func settle(away: Bool = false) {
        apply { state in state.machine.setMinimumInstances(away ? 0 : spec.scaling.minInstances, now: .now) }
    }

    /// Instances ready, and whether a start has failed since one last became ready (with why).
    var warmth: (ready: Int, failure: String?) {
        state.withLockedValue { state in
            (state.machine.readyCount, state.machine.startFailures > 0 ? state.lastStartFailure ?? "it failed to start" : nil)
        }
    }

    /// What `describe` shows: each instance, and the last cold start.
    public var status: PoolStatus {
        state.withLockedValue { state in
            PoolStatus(
                instances: state.machine.instances.compactMap { entry in
                    guard let instance = state.instances[entry.id] else { return nil }
                    switch entry.state {
                    case .starting: return .init(id: entry.id, port: instance.port, ready: false, inflight: 0)
                    case .ready(let inflight, _): return .init(id: entry.id, port: instance.port, ready: true, inflight: inflight)
                    }
                },
                queueDepth: state.machine.queueDepth, lastColdStart: state.lastColdStart)
        }
    }

    // MARK: Carrying out actions

    private func apply(_ event: (inout State) -> [InstancePoolStateMachine.Action]) {
        var effects = Effects()
        state.withLockedValue { state in
            let actions = event(&state)
            effects.collect(actions, state: &state, pool: self)
            effects.gauges = snapshot(state.machine)
        }
        effects.run(pool: self)
    }

    /// Side effects gathered under the lock and run after it is released.
    struct Effects {
        var deliveries: [(loop: any EventLoop, callback: LeaseCallback, result: Result<InstanceLease, GatehouseError>)] = []
        var launches: [FunctionInstance] = []
        var stops: [FunctionInstance] = []
        var gauges: (instances: Int, queue: Int, inflight: Int)?

        mutating func collect(_ actions: [InstancePoolStateMachine.Action], state: inout State, pool: FunctionPool) {
            for action in actions {
                switch action {
                case .dispatch(let waiterID, let instanceID, let coldStart):
                    guard let waiter = state.waiters.removeValue(forKey: waiterID),
                          let instance = state.instances[instanceID] else { continue }
                    deliveries.append((waiter.loop, waiter.callback, .success(InstanceLease(instance: instance, coldStart: coldStart))))
                case .reject(let waiterID, let rejection):
                    guard let waiter = state.waiters.removeValue(forKey: waiterID) else { continue }
                    deliveries.append((waiter.loop, waiter.callback, .failure(FunctionPool.error(for: rejection))))
                case .start(let instanceID):
                    do {
                        let instance = try FunctionInstance(
                            id: instanceID, spec: pool.spec, port: try FreePort.pick(), eventLoops: pool.eventLoops)
                        state.instances[instanceID] = instance
                        state.startedAt[instanceID] = .now
                        launches.append(instance)
                    } catch {
                        pool.logger.error("could not reserve a port for a new instance: \(error)")
                    }
                case .stop(let instanceID):
                    if let instance = state.instances.removeValue(forKey: instanceID) { stops.append(instance) }
                    state.startedAt[instanceID] = nil
                }
            }
        }

        func run(pool: FunctionPool) {
            for instance in launches { pool.launcher.launch(instance, pool: pool) }
            for instance in stops { instance.requestStop(grace: pool.stopGrace) }
            for delivery in deliveries {
                let (callback, result) = (delivery.callback, delivery.result)
                delivery.loop.execute { callback(result) }
            }
            if let gauges {
                pool.observer.poolChanged(instances: gauges.instances, queueDepth: gauges.queue, inflight: gauges.inflight)
            }
        }
    }

    private func snapshot(_ machine: InstancePoolStateMachine) -> (instances: Int, queue: Int, inflight: Int) {
        (machine.instanceCount, machine.queueDepth, machine.inflight)
    }

    private func reportGauges() {
        let gauges = state.withLockedValue { snapshot($0.machine) }
        observer.poolChanged(instances: gauges.instances, queueDepth: gauges.queue, inflight: gauges.inflight)
    }

    private func logStartFailure(_ instance: FunctionInstance, reason: String) {
        let stderr = instance.stderrTail.withLockedValue { $0 }
        let last = stderr.last.map { "; last stderr line: \($0)" } ?? ""
        state.withLockedValue { $0.lastStartFailure = reason + last }
        logger.error(
            "function failed to start: \(reason)",
            metadata: ["instance": "\(instance.id)", "stderr": "\(stderr.suffix(5).joined(separator: " | "))"])
    }

    static func error(for rejection: InstancePoolStateMachine.Rejection) -> GatehouseError {
        switch rejection {
        case .queueFull:
            return GatehouseError(.queueFull, detail: "all instances busy and the queue is full", retryAfter: .seconds(1))
        case .unavailable(let retryAfter):
            return GatehouseError(.functionUnavailable, detail: "the function failed to start", retryAfter: retryAfter)
        case .ejected(let retryAfter):
            return GatehouseError(.functionUnavailable, detail: "every instance is ejected by outlier detection", retryAfter: retryAfter)
        case .shuttingDown:
            return GatehouseError(.shuttingDown, detail: "gatehouse is shutting down")
        }
    }
}

/// Starts the process for an instance; implemented by `FunctionRuntime`.
protocol InstanceLauncher: Sendable {
    func launch(_ instance: FunctionInstance, pool: FunctionPool)
}

/// A pool as `gatehouse describe function` shows it.
public struct PoolStatus: Sendable {
    public struct Instance: Sendable {
        public var id: Int
        public var port: Int
        public var ready: Bool
        public var inflight: Int
    }

    public struct ColdStart: Sendable {
        public var at: Date
        public var duration: Duration
    }

    public var instances: [Instance]
    public var queueDepth: Int
    public var lastColdStart: ColdStart?
}
