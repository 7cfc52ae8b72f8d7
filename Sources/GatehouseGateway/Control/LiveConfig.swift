import GatehouseAuthentication
import GatehouseConfig
import GatehouseCore
import GatehouseEvents
import GatehouseFunctions
import GatehouseProtection
import GatehouseRouting
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
    /// And Gatehouse's signing keys and the assertions it signed (`AssertionKeyStore` installs the keys).
    let issuer: GatehouseIssuer
    /// On while traces are kept or a snapshot exports them; set at every install.
    let traces: TraceSwitch
    private let keepsTraces: Bool

    init(_ initial: ActiveConfig, keys: KeyDirectory, limiters: RateLimiters, keepsTraces: Bool = true, events: EventsWiring? = nil) {
        current = NIOLockedValueBox(initial)
        issuer = initial.issuer
        login = initial.login
        self.events = events
        self.keys = keys
        self.limiters = limiters
        self.keepsTraces = keepsTraces
        traces = TraceSwitch(on: keepsTraces || initial.snapshot.exportsTraces)
    }

    var active: ActiveConfig { current.withLockedValue { $0 } }

    /// The event machinery every snapshot after the first is built with (set once at start).
    let events: EventsWiring?
    /// The login sessions and OIDC clients every snapshot's login stage shares (taken from the first).
    let login: LoginWiring

    func install(_ config: ActiveConfig) {
        current.withLockedValue { $0 = config }
        traces.set(keepsTraces || config.snapshot.exportsTraces)
        // The login providers' keys too: their ID tokens are verified through the same directory.
        keys.retain(config.snapshot.requestAuthentications + LoginWiring.keyRules(for: config.snapshot.mesh))
        login.clients.retain(config.snapshot.mesh.loginProviders)
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
    /// Every serving revision's destination, for a request another node routed (`NodeHopReceiver`).
    let destinations: [RevisionKey: FunctionDestination]
    /// Istio's Telemetry precedence over this snapshot; each revision's policy is already on its
    /// `FunctionDestination` (resolved with the routes).
    let telemetry: TelemetryPolicies
    /// The mesh-wide policy, for requests that reach no function.
    let unroutedTelemetry: UnroutedTelemetry
    /// The Brokers, Triggers and EventPolicies of this snapshot, compiled.
    let brokers: BrokerDirectory
    /// Where published events and async calls go; nil when this process keeps no event store (tests of the pipeline alone).
    let events: EventsWiring?
    /// Gatehouse as an issuer: the same one for every snapshot.
    let issuer: GatehouseIssuer
    /// The login sessions and OIDC clients: the same for every snapshot.
    let login: LoginWiring
    /// `POST /.gatehouse/oauth2/token`: this snapshot's DelegationPolicies and JWT rules.
    let tokenExchange: TokenExchange

    init(
        snapshot: ConfigSnapshot, pools: [RevisionKey: any FunctionUpstream], keys: KeyDirectory, limiters: RateLimiters,
        issuer: GatehouseIssuer = GatehouseIssuer(), events: EventsWiring? = nil, login: LoginWiring? = nil
    ) {
        self.snapshot = snapshot
        self.issuer = issuer
        let login = login ?? .ephemeral(keys: keys)
        self.login = login
        telemetry = snapshot.telemetryPolicies
        unroutedTelemetry = UnroutedTelemetry(policy: telemetry.mesh)
        brokers = BrokerDirectory(snapshot: snapshot)
        steps = RequestPipeline.steps(
            for: snapshot, telemetry: telemetry, keys: keys, limiters: limiters, issuer: issuer, brokers: brokers, login: login)
        stages = RequestPipeline.stages(of: steps)
        tokenExchange = RequestPipeline.tokenExchange(for: snapshot, keys: keys, issuer: issuer)
        self.invoker = FunctionInvoker(pools: pools)
        destinations = RevisionTargets(
            functions: snapshot.functions, routing: snapshot.routing, trustDomain: snapshot.mesh.trustDomain, telemetry: telemetry
        ).destinations
        self.events = events
    }
}

/// The long-lived event machinery the request path hands publishing and async calls to.
struct EventsWiring: Sendable {
    let broker: EventBroker
    let calls: AsyncCalls
}
