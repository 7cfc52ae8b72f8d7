import GatehouseAuthentication
import GatehouseAuthorization
import GatehouseConfig
import GatehouseCore
import GatehouseEvents
import GatehouseExchange
import GatehouseFunctions
import GatehouseIdentity
import GatehouseListener
import GatehouseProtection
import GatehouseRouting
import GatehouseStore
import GatehouseTelemetry
import NIOCore

/// The request path, declared once. Every request that passes the listener's checks goes
/// through these steps in this order; the first stage to refuse or answer it ends it.
///
///     listener ─► well-known ─► hop limit ─► route ─► peer authentication ─► jwt ─► login ─► authorization ─► rate limit ─► assertion ─► invoke ─► respond
///                                                           (observers write the record at the end)
///
/// Authentication and authorization follow routing because their policies apply to the function
/// a request reaches (in Istio, the destination's sidecar enforces them). The same list drives
/// `gatehouse explain` and `gatehouse test` (`RequestExplainer`): each stage's `explain` is its
/// `process` without spending anything, so the two cannot disagree.
struct RequestPipeline: ExchangeProcessor {
    let live: LiveConfig
    /// How many requests may wait on a suspended stage at once (new tokens being verified,
    /// authorizers being asked); past it, 503 and `Retry-After` instead of an unbounded pile.
    let suspensions = ConcurrencyLimit(limit: 4096)
    /// Which node runs each revision, when this node shares a mesh with others (PostgreSQL).
    var placement: NodePlacement? = nil

    /// A stage of the declared order: run, or left out of this snapshot because it has nothing
    /// to do (said by `explain`, which lists every stage).
    enum Step: Sendable {
        case run(any RequestStage)
        case absent(StageName, because: String)
    }

    /// The stages for one config snapshot, in the order requests meet them.
    static func steps(
        for snapshot: ConfigSnapshot, telemetry: TelemetryPolicies? = nil, keys: KeyDirectory, limiters: RateLimiters,
        issuer: GatehouseIssuer = GatehouseIssuer(), brokers: BrokerDirectory? = nil, login: LoginWiring? = nil
    ) -> [Step] {
        let brokers = brokers ?? BrokerDirectory(snapshot: snapshot)
        // Policies look workloads up by name: the functions, and each Broker's built-in ingress.
        var snapshot = snapshot
        let workloads = brokers.workloads
        var steps: [Step] = []
        // Gatehouse's JWKS and OAuth metadata, on every host: nothing to route, nobody to check.
        steps.append(.run(ServeIssuerDocuments(issuer: issuer)))
        // ⑤ A request that went round too often (a loop of functions calling each other) → 508.
        steps.append(snapshot.mesh.maxHops > 0
            ? .run(EnforceHopLimit(maxHops: snapshot.mesh.maxHops)) : .absent(.hopLimit, because: "the Mesh's maxHops is 0"))
        // ④ Which function: a VirtualService's routes for the host, else the Host header's
        // NAME.NAMESPACE.<domain>; none → 404 NR. A route may answer itself (redirect, direct response).
        // The broker ingress host first (`/NAMESPACE/BROKER` → the Broker's workload), when any Broker exists.
        let routing = hostRouting(for: snapshot, telemetry: telemetry ?? snapshot.telemetryPolicies)
        steps.append(workloads.isEmpty
            ? .run(routing)
            : .run(RouteToBroker(directory: brokers, telemetry: telemetry ?? snapshot.telemetryPolicies, next: routing)))
        snapshot.functions += workloads
        // ② Whether the function accepts this kind of caller (PeerAuthentication: plaintext on the
        // ingress, mutual TLS on the mesh listener); left out when every function takes both.
        let peerModes = PeerAuthenticationModes(
            policies: snapshot.peerAuthentications, functions: snapshot.functions, rootNamespace: snapshot.mesh.rootNamespace)
        steps.append(peerModes.restrictsAnything
            ? .run(EnforcePeerAuthentication(modes: peerModes))
            : .absent(.peerAuthentication, because: "every function accepts plaintext and mutual TLS callers (PERMISSIVE)"))
        // ② The JWT rules of the RequestAuthentications that apply to that function; a token that
        // does not verify → 401. Left out when the config has none.
        // With a DelegationPolicy, also the tokens Gatehouse's own token endpoint issued (for their audience only).
        steps.append(snapshot.requestAuthentications.isEmpty && snapshot.delegationPolicies.isEmpty
            ? .absent(.jwt, because: "no RequestAuthentication or DelegationPolicy is configured: tokens are not checked and name no one")
            : .run(AuthenticateRequest(
                authenticator: authentication(for: snapshot, keys: keys), issued: snapshot.delegationPolicies.isEmpty ? nil : issuer,
                delegatedAudiences: delegatedAudiences(for: snapshot))))
        // ② Login at the gateway (LoginPolicy): a session cookie makes the request a verified end
        // user; without one a browser is sent to the provider, an API client gets 401. After the JWT
        // stage, so only a token that verified stands in for a login; it answers its callback and logout.
        steps.append(snapshot.loginPolicies.isEmpty
            ? .absent(.login, because: "no LoginPolicy is configured: nobody is asked to log in")
            : .run(requireLogin(for: snapshot, login: login ?? .ephemeral(keys: keys))))
        // ③ The AuthorizationPolicies that apply to that function; denied → 403.
        steps.append(snapshot.authorizationPolicies.isEmpty
            ? .absent(.authorization, because: "no AuthorizationPolicy is configured: every request is allowed")
            : .run(AuthorizeRequest(
                engine: authorization(for: snapshot), functions: snapshot.functions,
                trustedProxies: snapshot.mesh.numTrustedProxies, providers: snapshot.mesh.extensionProviders,
                authorizer: ExternalAuthorizer(client: keys.client))))
        // ⑤ The RateLimitPolicies of that function: token buckets and in-flight caps, per function
        // or per caller; over them → 429. After authorization, so refused callers spend nothing.
        steps.append(snapshot.rateLimits.isEmpty
            ? .absent(.rateLimit, because: "no RateLimitPolicy is configured")
            : .run(EnforceRateLimits(policies: snapshot.rateLimits, functions: snapshot.functions, limiters: limiters)))
        // ② The verified caller (end user or mesh peer), signed for the function: X-Gatehouse-Assertion.
        // Last, so a refused request costs no signature; a cached token, so an admitted one costs none either.
        steps.append(.run(IssueAssertion(issuer: issuer)))
        return steps
    }

    /// The stages that run, in order: what the gateway's hot path iterates.
    static func stages(of steps: [Step]) -> [any RequestStage] {
        steps.compactMap { if case .run(let stage) = $0 { stage } else { nil } }
    }

    /// Hosts to revisions: VirtualService routes first, then `NAME.NAMESPACE.<domain>` and tag hosts,
    /// both splitting a function's traffic among its revisions.
    /// Each revision's destination carries its Telemetry policy, resolved here once.
    static func hostRouting(for snapshot: ConfigSnapshot, telemetry: TelemetryPolicies? = nil) -> RouteByHost {
        let router = HostRouter(
            functions: snapshot.functions, routing: snapshot.routing, domain: snapshot.mesh.domain, trustDomain: snapshot.mesh.trustDomain,
            telemetry: telemetry ?? snapshot.telemetryPolicies)
        let table = RouteTable(
            services: snapshot.virtualServices, functions: snapshot.functions, targets: router.targets, domain: snapshot.mesh.domain)
        return RouteByHost(router: router, table: table)
    }

    static func authentication(for snapshot: ConfigSnapshot, keys: KeyDirectory) -> JWTAuthenticator {
        JWTAuthenticator(
            policies: snapshot.requestAuthentications, functions: snapshot.functions,
            rootNamespace: snapshot.mesh.rootNamespace, directory: keys)
    }

    /// The functions some DelegationPolicy applies to: the audiences agents may get tokens for.
    static func delegatedAudiences(for snapshot: ConfigSnapshot) -> Set<FunctionKey> {
        Set(snapshot.functions.filter { function in
            snapshot.delegationPolicies.contains { $0.applies(to: function, rootNamespace: snapshot.mesh.rootNamespace) }
        }.map(\.key))
    }

    /// The token endpoint of this snapshot: its DelegationPolicies, and the JWT rules that verify
    /// the people's tokens (and the agents' own).
    static func tokenExchange(for snapshot: ConfigSnapshot, keys: KeyDirectory, issuer: GatehouseIssuer) -> TokenExchange {
        TokenExchange(
            issuer: issuer, authenticator: authentication(for: snapshot, keys: keys),
            rules: DelegationRules(policies: snapshot.delegationPolicies, functions: snapshot.functions, rootNamespace: snapshot.mesh.rootNamespace),
            functions: snapshot.functions, domain: snapshot.mesh.domain, trustDomain: snapshot.mesh.trustDomain)
    }

    static func requireLogin(for snapshot: ConfigSnapshot, login: LoginWiring) -> RequireLogin {
        let gate = LoginGate(
            policies: snapshot.loginPolicies, functions: snapshot.functions, rootNamespace: snapshot.mesh.rootNamespace,
            providers: snapshot.mesh.loginProviders, clients: login.clients)
        return RequireLogin(gate: gate, sessions: login.sessions)
    }

    static func authorization(for snapshot: ConfigSnapshot) -> AuthorizationEngine {
        AuthorizationEngine(
            policies: snapshot.authorizationPolicies, functions: snapshot.functions,
            rootNamespace: snapshot.mesh.rootNamespace)
    }

    func begin(_ exchange: Exchange) {
        // Read once: an apply during this request does not change what it runs on.
        let config = live.active
        // The token endpoint (RFC 8693) takes a body and answers itself, on every host, before routing.
        if exchange.record.path.path == IssuerPaths.token {
            TokenEndpoint.serve(exchange, with: config.tokenExchange, suspensions: suspensions)
            return
        }
        // Headers a Telemetry expression reads (an access log filter, a metric tag) are kept for
        // the observers, which see only the record; with none to read, nothing is stored.
        let names = config.telemetry.headerNames
        if !names.isEmpty {
            let headers = exchange.head.headers
            exchange.record.extensions[TelemetryHeaders.self] = TelemetryHeaders(
                values: names.compactMap { name in headers.first(name: name).map { (name, $0) } } as [(String, String)])
        }
        run(exchange, config: config, from: 0)
    }

    /// Runs the stages from `index` on; a suspending stage continues here, on the exchange's loop.
    private func run(_ exchange: Exchange, config: ActiveConfig, from index: Int) {
        var index = index
        let headers = exchange.head.headers
        while index < config.stages.count {
            switch config.stages[index].process(&exchange.record, headers: headers) {
            case .proceed:
                index += 1
            case .reject(let error):
                exchange.fail(error)
                return
            case .respond(let reply):
                exchange.respond(reply)
                return
            case .suspend(let work):
                resume(exchange, config: config, at: index, after: work)
                return
            }
        }
        guard let destination = exchange.record.destination else {
            exchange.fail(GatehouseError(.routeNotFound, detail: "no stage chose a destination"))
            return
        }
        if let events = config.events {
            // ⑥ A Broker's ingress: the events are stored, 202 once durable.
            if let broker = destination.spec.broker {
                guard let entry = config.brokers.brokers[BrokerRef(namespace: broker.namespace, name: broker.name)] else {
                    exchange.fail(GatehouseError(.routeNotFound, detail: "Broker \(broker.namespace)/\(broker.name) is gone"))
                    return
                }
                events.broker.publish(exchange, to: entry, in: config.brokers)
                return
            }
            // ⑥ `Prefer: respond-async`: stored, 202 with the call's id; it runs in the background.
            if AsyncCalls.isRequested(exchange) {
                events.calls.accept(exchange)
                return
            }
        }
        // ⑥ The activator: a warm instance now, or a queued wait while one starts — here, or on the
        // node that is the revision's home.
        guard let placement, Self.placeable(exchange, destination) else {
            config.invoker.invoke(exchange, destination: destination)
            return
        }
        config.invoker.invoke(exchange, destination: destination) { local in
            let placed = placement.upstream(for: destination.spec, local: local)
            if placed !== local, let subject = AssertionSubject(record: exchange.record)?.hopHeaderValue {
                exchange.record.extensions[NodeHop.Subject.self] = subject
            }
            return placed
        }
    }

    /// A process function's request may run on another node — gRPC only to an h2c function (the
    /// hop is then HTTP/2 too); a WebSocket upgrade over HTTP/1.1, its tunnel then running through
    /// both nodes (docs/store-postgres.md, "Placement").
    static func placeable(_ exchange: Exchange, _ destination: FunctionDestination) -> Bool {
        guard case .process = destination.spec.workload else { return false }
        if exchange.upgrade != nil { return !destination.spec.speaksHTTP2 }
        return !exchange.record.isGRPC || destination.spec.speaksHTTP2
    }

    /// The request body keeps arriving meanwhile: the exchange buffers it (within the body limit)
    /// until the forwarder takes over. A client that left is not served.
    private func resume(
        _ exchange: Exchange, config: ActiveConfig, at index: Int, after work: @escaping @Sendable () async -> StageVerdict.Resumption
    ) {
        guard suspensions.enter() else {
            exchange.fail(GatehouseError(.overloaded, detail: "\(suspensions.limit) requests already wait on authentication or an authorizer", retryAfter: .seconds(1)))
            return
        }
        let loop = exchange.eventLoop
        let bound = NIOLoopBound(exchange, eventLoop: loop)
        let suspensions = suspensions
        let started = ContinuousClock.now
        let kind: RecordedSpan.Kind = switch config.stages[index].name {
        case .jwt: .jwtVerification
        case .assertion: .assertionSigning
        case .authorization: .externalAuthorization
        case .login: .loginProvider
        default: .faultDelay  // the route stage waits only for a fault's delay
        }
        let task = Task {
            let resumption = await work()
            suspensions.leave()
            loop.execute {
                let exchange = bound.value
                guard !exchange.isFinished else { return }
                exchange.onClientGone = nil
                let verdict = resumption(&exchange.record)
                // The work off the loop is a span of its own: a JWT that missed the cache, an authorizer's answer.
                if exchange.record.trace.isValid {
                    var span = RecordedSpan(
                        kind: kind, id: exchange.record.trace.spanId.child(UInt64(exchange.record.spans.count + 1)), start: started, end: .now)
                    if case .reject(let error) = verdict {
                        span.failed = true
                        span.detail = error.detail
                    }
                    exchange.record.spans.append(span)
                }
                switch verdict {
                case .proceed: run(exchange, config: config, from: index + 1)
                case .reject(let error): exchange.fail(error)
                case .respond(let reply): exchange.respond(reply)
                case .suspend(let more): resume(exchange, config: config, at: index, after: more)
                }
            }
        }
        // A client that leaves takes its check with it (an HTTP call in flight is cancelled).
        exchange.onClientGone = { task.cancel() }
    }
}

/// The mesh listener's requests are mesh traffic: VirtualServices bound to `mesh` route them.
struct MeshTraffic: ExchangeProcessor {
    let next: any ExchangeProcessor

    func begin(_ exchange: Exchange) {
        exchange.record.viaMeshListener = true
        next.begin(exchange)
    }
}
