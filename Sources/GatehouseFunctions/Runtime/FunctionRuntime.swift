import Foundation
import GatehouseCore
import GatehouseExchange
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// ⑥ Runs the functions: one pool per serving revision, one supervised process per instance.
///
/// A `Service`: every instance's supervisor is a child task of `run()`, so nothing outlives it.
/// `prepare` → `warmUp` → `commit` moves it to a new set of revisions while it serves: an unchanged
/// revision keeps its pool and warm instances; a new pool is warmed before the swap (see
/// `warmth(for:percent:active:)`), and the pools of revisions no longer routed are retired — each
/// finishes the requests it admitted and stops its instances once idle. On shutdown, waiting
/// requests are refused and every instance gets SIGTERM, then SIGKILL after `stopGrace`.
public final class FunctionRuntime: Service, Sendable {
    public struct Configuration: Sendable {
        /// Time between SIGTERM and SIGKILL when an instance is stopped.
        public var stopGrace: Duration
        /// How often startup timeouts and idle instances are checked.
        public var housekeepingInterval: Duration
        /// Each instance's own SVID, when the gateway has a CA.
        public var identities: (any InstanceIdentities)?
        /// Users, environment and port rules that keep instances apart (nil: environment only).
        public var sandbox: FunctionSandbox?

        public init(
            stopGrace: Duration = .seconds(3), housekeepingInterval: Duration = .milliseconds(100),
            identities: (any InstanceIdentities)? = nil, sandbox: FunctionSandbox? = nil
        ) {
            self.stopGrace = stopGrace
            self.housekeepingInterval = housekeepingInterval
            self.identities = identities
            self.sandbox = sandbox
        }
    }

    private struct State {
        var active: [RevisionKey: FunctionPool] = [:]
        var retiring: [FunctionPool] = []
        /// Pools of a transition not yet committed (warming up).
        var preparing: [FunctionPool] = []
        var outputs: [FunctionKey: OutputLog] = [:]
        var isShutDown = false
    }

    private let state = NIOLockedValueBox(State())
    /// Whether another node of the mesh runs a revision (placement): its pool here keeps no
    /// `minInstances`, so the mesh keeps the minimum once, on the home.
    private let away = NIOLockedValueBox<@Sendable (RevisionKey) -> Bool>({ _ in false })
    private let supervisor: ProcessSupervisor
    private let launches: AsyncStream<(FunctionInstance, FunctionPool)>
    private let launcher: LaunchQueue
    private let eventLoops: [any EventLoop]
    private let observer: any FunctionLifecycleObserver
    private let configuration: Configuration
    private let logger: Logger

    public init(
        eventLoops: [any EventLoop], records: InstanceRecords, observer: any FunctionLifecycleObserver,
        configuration: Configuration = Configuration(), logger: Logger
    ) {
        let (launches, continuation) = AsyncStream.makeStream(of: (FunctionInstance, FunctionPool).self)
        self.launches = launches
        self.launcher = LaunchQueue(continuation: continuation)
        self.eventLoops = eventLoops
        self.observer = observer
        self.configuration = configuration
        self.logger = logger
        self.supervisor = ProcessSupervisor(
            records: records, probeLoop: eventLoops[0], identities: configuration.identities, sandbox: configuration.sandbox, logger: logger)
    }

    /// A move to a new set of revisions: pools made, warm-up planned, not serving yet.
    public struct Transition: Sendable {
        /// The pools that serve once the transition is committed, by revision.
        public let pools: [RevisionKey: FunctionPool]
        let created: [FunctionPool]
        /// New pools, and how many instances to have ready before the swap.
        let warming: [(pool: FunctionPool, count: Int)]
    }

    /// Plans the move to `revisions` (the specs that serve, with each one's share of its function's
    /// traffic in `percents`): an unchanged revision keeps its pool, others get a new one.
    public func prepare(_ revisions: [FunctionSpec], percents: [RevisionKey: Int] = [:]) -> Transition {
        state.withLockedValue { state in
            var pools: [RevisionKey: FunctionPool] = [:]
            var created: [FunctionPool] = []
            var warming: [(pool: FunctionPool, count: Int)] = []
            for spec in revisions {
                if let current = state.active[spec.revisionKey], current.spec.runsLike(spec) {
                    pools[spec.revisionKey] = current
                }
            }
            let away = away.withLockedValue { $0 }
            for spec in revisions where pools[spec.revisionKey] == nil {
                let pool = FunctionPool(
                    spec: spec, launcher: launcher, observer: observer, eventLoops: eventLoops,
                    stopGrace: configuration.stopGrace, logger: logger)
                if away(spec.revisionKey) { pool.settle(away: true) }
                pools[spec.revisionKey] = pool
                created.append(pool)
                let count = Self.warmth(for: spec, percent: percents[spec.revisionKey] ?? 100, active: state.active)
                if count > 0 { warming.append((pool, min(count, max(1, spec.scaling.maxInstances)))) }
                if state.outputs[spec.key] == nil { state.outputs[spec.key] = OutputLog() }
            }
            state.preparing += created
            return Transition(pools: pools, created: created, warming: warming)
        }
    }

    /// How many ready instances a new pool needs before the swap, so the change costs callers no
    /// cold start and a revision that cannot start is refused while the old ones serve:
    /// - a revision whose pool is replaced (its spec changed under it): as many as that pool had;
    /// - a new revision of a function with ready instances: its share of them, at least one
    ///   (a tag-only revision too, as Knative starts one instance of every new revision);
    /// - a function with nothing ready (new, or scaled to zero): none; the first request starts it.
    static func warmth(for spec: FunctionSpec, percent: Int, active: [RevisionKey: FunctionPool]) -> Int {
        if let replaced = active[spec.revisionKey] { return replaced.warmth.ready }
        let ready = active.filter { $0.key.function == spec.key }.values.reduce(0) { $0 + $1.warmth.ready }
        guard ready > 0 else { return 0 }
        return max(1, (ready * percent + 99) / 100)
    }

    /// Starts the warm-up instances and waits until they are ready (each within its function's
    /// `startupTimeout`). Returns, per function that could not warm up, why.
    public func warmUp(_ transition: Transition) async -> [(key: RevisionKey, reason: String)] {
        for (pool, count) in transition.warming { pool.warm(to: count) }
        let start = ContinuousClock.now
        var waiting = transition.warming
        var failures: [(key: RevisionKey, reason: String)] = []
        while !waiting.isEmpty {
            if Task.isCancelled {
                return failures + waiting.map { ($0.pool.spec.revisionKey, "cancelled: Gatehouse is shutting down") }
            }
            waiting.removeAll { pool, count in
                let warmth = pool.warmth
                if let failure = warmth.failure {
                    failures.append((pool.spec.revisionKey, failure))
                    return true
                }
                if ContinuousClock.now - start > pool.spec.startupTimeout {
                    failures.append((pool.spec.revisionKey, "no instance was ready within \(pool.spec.startupTimeout.gatehouseDescription)"))
                    return true
                }
                return warmth.ready >= count
            }
            if !waiting.isEmpty { try? await Task.sleep(for: .milliseconds(5)) }
        }
        return failures
    }

    /// Makes the transition's pools the serving set. Pools of revisions that changed or no longer
    /// serve are retired, never cut off.
    @discardableResult
    public func commit(_ transition: Transition) -> [RevisionKey: FunctionPool] {
        var removedOutputs: [OutputLog] = []
        let retired: [FunctionPool] = state.withLockedValue { state in
            let created = Set(transition.created.map(ObjectIdentifier.init))
            state.preparing.removeAll { created.contains(ObjectIdentifier($0)) }
            var retired: [FunctionPool] = []
            let remaining = Set(transition.pools.keys.map(\.function))
            for (key, pool) in state.active where transition.pools[key] !== pool {
                retired.append(pool)
                if !remaining.contains(key.function), let output = state.outputs.removeValue(forKey: key.function) { removedOutputs.append(output) }
            }
            state.retiring += retired
            state.active = transition.pools
            return retired
        }
        // A deleted function's `logs --follow` streams end.
        for output in removedOutputs { output.finishFollowers() }
        for pool in retired {
            logger.info("retiring instances of a revision no longer served", metadata: ["function": "\(pool.spec.key)", "revision": "\(pool.spec.revision)"])
            pool.retire()
        }
        // Every new pool's floor, as placement says now (it may have changed since `prepare`).
        let away = away.withLockedValue { $0 }
        for pool in transition.created { pool.settle(away: away(pool.spec.revisionKey)) }
        for pool in transition.created { pool.tick() }  // start minInstances at once
        return transition.pools
    }

    /// From now on `away` says which revisions another node runs; every serving pool's minimum
    /// follows at once (called again whenever the nodes change).
    public func place(away: @escaping @Sendable (RevisionKey) -> Bool) {
        self.away.withLockedValue { $0 = away }
        // Pools still warming up are settled when their transition commits.
        let pools = state.withLockedValue { Array($0.active.values) }
        for pool in pools { pool.settle(away: away(pool.spec.revisionKey)) }
    }

    /// Drops a transition that will not be committed: its warm-up instances are stopped.
    public func abandon(_ transition: Transition) {
        state.withLockedValue { state in
            let created = Set(transition.created.map(ObjectIdentifier.init))
            state.preparing.removeAll { created.contains(ObjectIdentifier($0)) }
            let active = Set(state.active.keys.map(\.function))
            for pool in transition.created where !active.contains(pool.spec.key) { state.outputs[pool.spec.key] = nil }
        }
        for pool in transition.created { pool.shutdown() }
    }

    /// The pool now serving revision `key`, if it serves.
    public func pool(for key: RevisionKey) -> FunctionPool? {
        state.withLockedValue { $0.active[key] }
    }

    /// The pools of a function's serving revisions, oldest revision first.
    public func pools(of function: FunctionKey) -> [FunctionPool] {
        state.withLockedValue { $0.active.filter { $0.key.function == function }.sorted { $0.key.number < $1.key.number }.map(\.value) }
    }

    /// What the function's instances wrote, across its revisions; nil once it is deleted.
    public func output(for key: FunctionKey) -> OutputLog? {
        state.withLockedValue { $0.outputs[key] }
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in
                // Housekeeping, until shutdown.
                while !Task.isShuttingDownGracefully, !Task.isCancelled {
                    for pool in allPools() { pool.tick() }
                    forgetDrainedPools()
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.housekeepingInterval) }
                }
                let pools = state.withLockedValue { state in
                    state.isShutDown = true
                    for output in state.outputs.values { output.finishFollowers() }
                    return Array(state.active.values) + state.retiring + state.preparing
                }
                for pool in pools { pool.shutdown() }
                launcher.continuation.finish()
            }
            for await (instance, pool) in launches {
                // A deleted function's output log is gone; its last instances write to a detached one.
                let output = self.output(for: pool.spec.key) ?? OutputLog(capacity: 0)
                group.addTask { [supervisor] in
                    await supervisor.run(instance, pool: pool, output: output)
                }
            }
        }
    }

    private func allPools() -> [FunctionPool] {
        state.withLockedValue { Array($0.active.values) + $0.retiring + $0.preparing }
    }

    private func forgetDrainedPools() {
        let drained = state.withLockedValue { state in
            let drained = state.retiring.filter(\.isDrained)
            state.retiring.removeAll { $0.isDrained }
            return drained
        }
        for pool in drained {
            logger.info("previous spec drained", metadata: ["function": "\(pool.spec.key)", "revision": "\(pool.spec.revision)"])
        }
    }
}

/// Hands new instances from the pools to the runtime's task group.
private struct LaunchQueue: InstanceLauncher {
    let continuation: AsyncStream<(FunctionInstance, FunctionPool)>.Continuation

    func launch(_ instance: FunctionInstance, pool: FunctionPool) {
        continuation.yield((instance, pool))
    }
}
