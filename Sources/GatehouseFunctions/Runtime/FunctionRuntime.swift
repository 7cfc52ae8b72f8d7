import Foundation
import GatehouseCore
import GatehouseListener
import Logging
import NIOCore
import ServiceLifecycle

/// ⑥ Runs the functions: one pool per function, one supervised process per instance.
///
/// A `Service`: every instance's supervisor is a child task of `run()`, so nothing outlives it.
/// On shutdown, waiting requests are refused and every instance gets SIGTERM, then SIGKILL after
/// `stopGrace`.
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

    public let pools: [FunctionKey: FunctionPool]
    public let outputs: [FunctionKey: OutputLog]
    private let supervisor: ProcessSupervisor
    private let launches: AsyncStream<(FunctionInstance, FunctionPool)>
    private let launchContinuation: AsyncStream<(FunctionInstance, FunctionPool)>.Continuation
    private let configuration: Configuration
    private let logger: Logger

    public init(
        functions: [FunctionSpec], eventLoops: [any EventLoop], records: InstanceRecords,
        observer: any FunctionLifecycleObserver, configuration: Configuration = Configuration(), logger: Logger
    ) {
        (launches, launchContinuation) = AsyncStream.makeStream(of: (FunctionInstance, FunctionPool).self)
        self.configuration = configuration
        self.logger = logger
        self.supervisor = ProcessSupervisor(records: records, probeLoop: eventLoops[0], logger: logger)
        var pools: [FunctionKey: FunctionPool] = [:]
        var outputs: [FunctionKey: OutputLog] = [:]
        let launcher = LaunchQueue(continuation: launchContinuation)
        for spec in functions {
            pools[spec.key] = FunctionPool(
                spec: spec, launcher: launcher, observer: observer, eventLoops: eventLoops,
                stopGrace: configuration.stopGrace, logger: logger)
            outputs[spec.key] = OutputLog()
        }
        self.pools = pools
        self.outputs = outputs
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in
                // Housekeeping, until shutdown.
                while !Task.isShuttingDownGracefully, !Task.isCancelled {
                    for pool in pools.values { pool.tick() }
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.housekeepingInterval) }
                }
                for pool in pools.values { pool.shutdown() }
                launchContinuation.finish()
            }
            for pool in pools.values { pool.tick() }  // start minInstances at once
            for await (instance, pool) in launches {
                let output = outputs[pool.spec.key]!
                group.addTask { [supervisor] in
                    await supervisor.run(instance, pool: pool, output: output)
                }
            }
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
