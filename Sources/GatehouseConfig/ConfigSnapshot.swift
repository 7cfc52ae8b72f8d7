import GatehouseCore

/// Everything the configuration says, validated as a whole; replaced, never mutated, on reload.
public struct ConfigSnapshot: Sendable {
    /// `MeshSpec()` when no `Mesh` document was given.
    public var mesh: MeshSpec
    /// Sorted by namespace, then name, so output and iteration are stable.
    public var functions: [FunctionSpec]
    public var istioResources: [IstioResource]
    /// Enforced on the request path (`GatehouseAuthorization`).
    public var authorizationPolicies: [AuthorizationPolicySpec]
    /// Enforced on the request path (`GatehouseAuthentication`).
    public var requestAuthentications: [RequestAuthenticationSpec]
    /// Enforced on the request path (`GatehouseIdentity`).
    public var peerAuthentications: [PeerAuthenticationSpec]
    /// Their `trafficPolicy.tls` applies to remote functions.
    public var destinationRules: [DestinationRuleSpec]
    /// Their HTTPS servers are TLS listeners beside the ingress (read at start).
    public var gateways: [GatewaySpec]
    /// Routing for their hosts, before the `NAME.NAMESPACE.<domain>` convention (`GatehouseRouting`).
    public var virtualServices: [VirtualServiceSpec]
    /// Enforced on the request path (`GatehouseProtection`).
    public var rateLimits: [RateLimitPolicySpec]
    /// Enforced on the request path (`RequireLogin`): the functions whose callers must be logged-in people.
    public var loginPolicies: [LoginPolicySpec]
    /// Who may act for whom at the token endpoint (RFC 8693 exchange); none → no exchange is allowed.
    public var delegationPolicies: [DelegationPolicySpec]
    /// Resolved per revision into `TelemetryPolicy` values (`telemetryPolicies`).
    public var telemetries: [TelemetrySpec]
    /// Knative Eventing: each sorted by namespace, then name.
    public var brokers: [BrokerSpec]
    public var triggers: [TriggerSpec]
    public var pingSources: [PingSourceSpec]
    public var eventPolicies: [EventPolicySpec]
    /// Which revisions serve and how traffic reaches them; set on apply (`RevisionResolver`).
    public var routing = RevisionRouting()
    /// Non-fatal remarks: Istio kinds accepted but not enforced yet, unsupported kinds ignored.
    public var notices: [ConfigNotice]
    /// Every Gatehouse and Istio document as written, in reading order: what an apply stores.
    public var documents: [ResourceDocument]

    public init(
        mesh: MeshSpec = MeshSpec(),
        functions: [FunctionSpec] = [],
        istioResources: [IstioResource] = [],
        authorizationPolicies: [AuthorizationPolicySpec] = [],
        requestAuthentications: [RequestAuthenticationSpec] = [],
        peerAuthentications: [PeerAuthenticationSpec] = [],
        destinationRules: [DestinationRuleSpec] = [],
        gateways: [GatewaySpec] = [],
        virtualServices: [VirtualServiceSpec] = [],
        rateLimits: [RateLimitPolicySpec] = [],
        loginPolicies: [LoginPolicySpec] = [],
        telemetries: [TelemetrySpec] = [],
        notices: [ConfigNotice] = [],
        documents: [ResourceDocument] = [],
        brokers: [BrokerSpec] = [],
        triggers: [TriggerSpec] = [],
        pingSources: [PingSourceSpec] = [],
        eventPolicies: [EventPolicySpec] = [],
        delegationPolicies: [DelegationPolicySpec] = []
    ) {
        self.delegationPolicies = delegationPolicies
        self.brokers = brokers.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        self.triggers = triggers.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        self.pingSources = pingSources.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        self.eventPolicies = eventPolicies.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        self.documents = documents
        self.authorizationPolicies = authorizationPolicies
        self.requestAuthentications = requestAuthentications
        self.peerAuthentications = peerAuthentications
        self.destinationRules = destinationRules
        self.gateways = gateways
        self.virtualServices = virtualServices
        self.rateLimits = rateLimits
        self.loginPolicies = loginPolicies
        self.telemetries = telemetries
        self.mesh = mesh
        self.functions = functions
        self.istioResources = istioResources
        self.notices = notices
    }

    /// Istio's Telemetry precedence over this snapshot's Telemetries and Mesh: each revision's
    /// policy, and the mesh-wide one for requests that reach no function.
    public var telemetryPolicies: TelemetryPolicies { TelemetryPolicies(telemetries: telemetries, mesh: mesh) }

    /// Some Telemetry (or the Mesh's `defaultProviders`) names a trace collector.
    public var exportsTraces: Bool {
        !(mesh.defaultProviders.tracing ?? []).isEmpty || telemetries.contains { $0.tracing.contains { !$0.providers.isEmpty } }
    }

    /// The specs that run instances: every serving revision (each function's current spec, before
    /// `routing` is resolved).
    public var servingRevisions: [FunctionSpec] { routing.servingSpecs(current: functions) }

    public func function(_ key: FunctionKey) -> FunctionSpec? {
        functions.first { $0.namespace == key.namespace && $0.name == key.name }
    }
}
