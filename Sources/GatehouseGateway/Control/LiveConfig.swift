import GatehouseAuthentication
import GatehouseConfig
import GatehouseCore
import GatehouseFunctions
import GatehouseProtection
import GatehouseTelemetry
import NIOConcurrencyHelpers

/// The config the request path reads. An apply builds a whole new `ActiveConfig` and swaps it in;
/// each request reads it once, when it begins, and finishes on what it read.
final class LiveConfig: Sendable {
    private let current: NIOLockedValueBox<ActiveConfig>
    /// JWT key sources outlive snapshots: an apply does not refetch keys it already has.
    let keys: KeyDirectory
    /// So do rate-limit counters: an apply does not refill the buckets of unchanged policies.
    let limiters: RateLimiters
    /// On while traces are kept or a snapshot exports them; set at every install.
    let traces: TraceSwitch
    private let keepsTraces: Bool

    init(_ initial: ActiveConfig, keys: KeyDirectory, limiters: RateLimiters, keepsTraces: Bool = true) {
        current = NIOLockedValueBox(initial)
        self.keys = keys
        self.limiters = limiters
        self.keepsTraces = keepsTraces
        traces = TraceSwitch(on: keepsTraces || initial.snapshot.exportsTraces)
    }

    var active: ActiveConfig { current.withLockedValue { $0 } }

    func install(_ config: ActiveConfig) {
        current.withLockedValue { $0 = config }
        traces.set(keepsTraces || config.snapshot.exportsTraces)
        keys.retain(config.snapshot.requestAuthentications)
    }
}

/// One applied snapshot, ready for requests: its stages in order and its serving revisions'
/// upstreams (instance pools and remote functions).
final class ActiveConfig: Sendable {
    let snapshot: ConfigSnapshot
    /// Every stage in order, with the ones left out: what `explain` walks.
    let steps: [RequestPipeline.Step]
    /// The ones that run: what requests walk.
    let stages: [any RequestStage]
    let invoker: FunctionInvoker
    /// Istio's Telemetry precedence over this snapshot; each revision's policy is already on its
    /// `FunctionDestination` (resolved with the routes).
    let telemetry: TelemetryPolicies
    /// The mesh-wide policy, for requests that reach no function.
    let unroutedTelemetry: UnroutedTelemetry

    init(snapshot: ConfigSnapshot, pools: [RevisionKey: any FunctionUpstream], keys: KeyDirectory, limiters: RateLimiters) {
        self.snapshot = snapshot
        telemetry = snapshot.telemetryPolicies
        unroutedTelemetry = UnroutedTelemetry(policy: telemetry.mesh)
        steps = RequestPipeline.steps(for: snapshot, telemetry: telemetry, keys: keys, limiters: limiters)
        stages = RequestPipeline.stages(of: steps)
        self.invoker = FunctionInvoker(pools: pools)
    }
}
