import Foundation
import GatehouseCore
import GatehouseListener
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// ⑥ Runs the functions: one pool per function, one supervised process per instance.
///
/// A `Service`: every instance's supervisor is a child task of `run()`, so nothing outlives it.
/// `reconcile` moves it to a new set of functions while it serves: an unchanged function keeps its
/// pool and warm instances; a changed one gets a new pool, and the old one is retired — it finishes
/// the requests it admitted and stops each instance once idle. On shutdown, waiting requests are
/// refused and every instance gets SIGTERM, then SIGKILL after `stopGrace`.
public final class FunctionRuntime: Service, Sendable {
    public struct Configuration: Sendable {
        /// Time between SIGTERM and SIGKILL when an instance is stopped.
        public var stopGrace: Duration
        /// How often startup timeouts and idle instances are checked.
        public var housekeepingInterval: Duration

        public init(stopGrace: Duration = .seconds(3), housekeepingInterval: Duration = .milliseconds(100)) {
            self.stopGrace = stopGrace
            self.housekeepingInterval = housekeepingInterval
        }
    }

    private struct State {
        var active: [FunctionKey: FunctionPool] = [:]
        var retiring: [FunctionPool] = []
        var outputs: [FunctionKey: OutputLog] = [:]
        var isShutDown = false
    }

    private let state = NIOLockedValueBox(State())
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
        self.supervisor = ProcessSupervisor(records: records, probeLoop: eventLoops[0], logger: logger)
    }

    /// Makes `functions` the running set and returns its pools, keyed by function. Pools of
    /// functions that changed or disappeared are retired, never cut off.
    @discardableResult
    public func reconcile(_ functions: [FunctionSpec]) -> [FunctionKey: FunctionPool] {
        var started: [FunctionPool] = []
        var retired: [FunctionPool] = []
        let pools: [FunctionKey: FunctionPool] = state.withLockedValue { state in
            var next: [FunctionKey: FunctionPool] = [:]
            for spec in functions {
                if let current = state.active[spec.key], current.spec.runsLike(spec) {
                    next[spec.key] = current
                    continue
                }
                let pool = FunctionPool(
                    spec: spec, launcher: launcher, observer: observer, eventLoops: eventLoops,
                    stopGrace: configuration.stopGrace, logger: logger)
                next[spec.key] = pool
                started.append(pool)
                if state.outputs[spec.key] == nil { state.outputs[spec.key] = OutputLog() }
            }
            for (key, pool) in state.active where next[key] !== pool {
                retired.append(pool)
                if next[key] == nil { state.outputs[key] = nil }
            }
            state.retiring += retired
            state.active = next
            return next
        }
        for pool in retired {
            logger.info("retiring instances of the previous spec", metadata: ["function": "\(pool.spec.key)", "revision": "\(pool.spec.revision)"])
            pool.retire()
        }
        for pool in started { pool.tick() }  // start minInstances at once
        return pools
    }

    /// The pool now serving `key`, if the function exists.
    public func pool(for key: FunctionKey) -> FunctionPool? {
        state.withLockedValue { $0.active[key] }
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
                    return Array(state.active.values) + state.retiring
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
        state.withLockedValue { Array($0.active.values) + $0.retiring }
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
