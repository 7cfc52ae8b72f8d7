import GatehouseConfig
import GatehouseCore
import GatehouseFunctions
import NIOConcurrencyHelpers

/// The config the request path reads. An apply builds a whole new `ActiveConfig` and swaps it in;
/// each request reads it once, when it begins, and finishes on what it read.
final class LiveConfig: Sendable {
    private let current: NIOLockedValueBox<ActiveConfig>

    init(_ initial: ActiveConfig) {
        current = NIOLockedValueBox(initial)
    }

    var active: ActiveConfig { current.withLockedValue { $0 } }

    func install(_ config: ActiveConfig) {
        current.withLockedValue { $0 = config }
    }
}

/// One applied snapshot, ready for requests: its stages in order and its functions' pools.
final class ActiveConfig: Sendable {
    let snapshot: ConfigSnapshot
    let stages: [any RequestStage]
    let invoker: FunctionInvoker

    init(snapshot: ConfigSnapshot, pools: [FunctionKey: FunctionPool]) {
        self.snapshot = snapshot
        self.stages = RequestPipeline.stages(for: snapshot)
        self.invoker = FunctionInvoker(pools: pools)
    }
}
