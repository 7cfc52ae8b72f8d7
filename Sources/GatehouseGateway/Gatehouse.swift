import Foundation
import GatehouseAuthentication
import GatehouseConfig
import GatehouseCore
import GatehouseEvents
import GatehouseExchange
import GatehouseFunctions
import GatehouseListener
import GatehouseOutbound
import GatehouseProtection
import GatehouseRouting
import GatehouseStore
import GatehouseTelemetry
import GatehouseTracing
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// A whole Gatehouse: the listeners, the request path, the function runtime and telemetry, run as
/// one `ServiceGroup` until SIGTERM or SIGINT.
///
/// Everything long-lived is a service of the one `ServiceGroup`. They start in the order outbound
/// client → runtime → access log → decision log → JWT keys → admin (mTLS, then plain) → SIGHUP
/// reload → store follower (changes other writers commit) → mesh identity → mesh listener →
/// ingress → gateway HTTPS listeners → node heartbeat, and stop in reverse: the node leaves the
/// node registry first, the listeners drain (no new
/// connections; in-flight requests finish within `drainGrace`), then the admin servers, then the
/// writers flush what the drained requests left, then the function instances stop, and the outbound
/// client closes last. The event loops, the blocking-I/O thread pool and the outbound client are
/// made here and passed in: nothing uses a process-wide singleton.
public struct Gatehouse: Sendable {
    public struct Options: Sendable {
        public var stateDirectory: URL
        /// Overrides the `Mesh` listeners (`--ingress`, `--admin`).
        public var ingress: ListenAddress?
        public var admin: ListenAddress?
        public var mesh: ListenAddress?
        public var accessLog: AccessLogDestination
        public var eventLoops: Int
        public var limits: ListenerLimits
        /// How long in-flight requests may take to finish at shutdown.
        public var drainGrace: Duration
        /// Between SIGTERM and SIGKILL for each instance.
        public var stopGrace: Duration
        /// The `-f` paths: applied over the stored config at start, and again on `SIGHUP`.
        public var configFiles: [String]
        /// The admin API token; a new random one on each start when nil.
        public var adminToken: AdminToken?
        /// How long authorization decisions are kept for `explain --request-id`.
        public var decisionRetention: Duration
        /// How large the decision log may grow (`decisions.db`); its oldest entries go first.
        public var decisionBounds = DecisionLogBounds()
        /// Write plain allows to `decisions.db` too, instead of keeping the last 4096 in memory.
        public var allowedDecisionsOnDisk = false
        /// The audit log's retention, bounds and checkpoint schedule (`audit.db`).
        public var audit = AuditTrail.Settings()
        /// The config database (`--store`); `STATE_DIR/gatehouse.db` when nil. Several `gatehouse`
        /// processes (each with its own state directory) may share one: each serves what any of
        /// them applies.
        public var storePath: String?
        /// A PostgreSQL config store (`--store postgres://…`) instead of a SQLite file; `storePath`
        /// is then unused. Only the config is shared through it so far (docs/store-postgres.md).
        public var postgresStore: PostgresStoreLocation?
        /// Recent requests kept in memory for `gatehouse trace` (and, apart, 256 failed ones); 0: none.
        public var keptTraces = 1024
        /// This node's name (`--node-name`): its row in the node registry, and whose event leases
        /// are whose. Checked as a `NodeName` at start; default the host name.
        public var nodeName = NodeName.fromHostName(ProcessInfo.processInfo.hostName).value
        /// Where the other nodes reach this one's mesh listener (`--advertise-host`); default the bound host.
        public var advertiseHost: String?
        /// How often this node heartbeats into the node registry, when it counts as gone, and when
        /// long-gone nodes' rows are deleted (`--node-heartbeat`, `--node-forget-after`).
        public var nodeTiming = NodeTiming()
        /// A join token's file (`--join-token-file`): with a PostgreSQL store and no CA yet, this
        /// node joins the mesh's CA (`NodeJoin`) instead of making a root of its own.
        public var joinTokenFile: String?
        /// Say once, in a few lines for a person, where everything is once it serves
        /// (`StartupSummary`); false: as structured log lines (`--log-format json`).
        public var startupSummary = true

        public init(
            stateDirectory: URL, ingress: ListenAddress? = nil, admin: ListenAddress? = nil,
            accessLog: AccessLogDestination = .standardOutput, eventLoops: Int = System.coreCount,
            limits: ListenerLimits = ListenerLimits(), drainGrace: Duration = .seconds(10),
            stopGrace: Duration = .seconds(3), configFiles: [String] = [], adminToken: AdminToken? = nil,
            decisionRetention: Duration = .seconds(24 * 3600), mesh: ListenAddress? = nil
        ) {
            self.mesh = mesh
            self.decisionRetention = decisionRetention
            self.configFiles = configFiles
            self.adminToken = adminToken
            self.stateDirectory = stateDirectory
            self.ingress = ingress
            self.admin = admin
            self.accessLog = accessLog
            self.eventLoops = eventLoops
            self.limits = limits
            self.drainGrace = drainGrace
            self.stopGrace = stopGrace
        }
    }

    public let options: Options
    public let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Runs until shutdown. Throws when the state directory is taken or a listener cannot bind.
    public func run() async throws {
        let nodeName: NodeName
        do { nodeName = try NodeName(validating: options.nodeName) } catch { throw StartupFailure(description: error.description) }
        let state = try StateDirectory.lock(options.stateDirectory, logger: logger)
        defer { state.release() }
        state.instanceRecords.reapLeftovers(logger: logger)

        // The config store, the node registry, the event queue and the audit log in the same
        // database: on PostgreSQL the queue is the mesh's (any node accepts and delivers; a dead
        // node's leased deliveries are delivered by the others once their leases expire), and so
        // is the one audit chain, which every node appends to.
        let store: any ConfigStore
        let nodeRegistry: any NodeRegistry
        let eventStore: any EventStore
        let auditLog: any AuditLog
        let auditLocation: String
        let unreadableEvents: @Sendable (String) -> Void = { [logger] problem in logger.warning("events: \(problem)") }
        if let location = options.postgresStore {
            let postgres = try await PostgresConfigStore(location: location)
            (store, nodeRegistry) = (postgres, postgres)
            eventStore = PostgresEventStore(store: postgres, report: unreadableEvents)
            (auditLog, auditLocation) = (PostgresAuditLog(store: postgres), "in \(location)")
            logger.info("the config store, the event queue and the audit log are PostgreSQL at \(location)")
        } else {
            if let shared = options.storePath { try StateDirectory.checkStore(shared, logger: logger) }
            let sqlite = try SQLiteStore(path: options.storePath ?? state.databasePath)
            (store, nodeRegistry) = (sqlite, sqlite)
            eventStore = try SQLiteEventStore(path: state.eventsPath, report: unreadableEvents)
            (auditLog, auditLocation) = (try SQLiteAuditLog(path: state.auditPath), state.auditPath)
        }
        let decisionLog = try SQLiteDecisionLog(path: state.decisionsPath)
        // People logged in at the gateway: their sessions survive a restart, sealed with kept keys.
        let loginDirectory = StateDirectory.loginDirectory(in: state.url)
        let loginSessions = try LoginSessions(
            sealer: LoginCookieKeys.load(directory: loginDirectory),
            store: SQLiteLoginSessions(path: loginDirectory.appendingPathComponent("sessions.db").path))
        // Before anything is bound: a name another live node holds stops the start here.
        let membership = try await NodeMembership.join(
            registry: nodeRegistry, name: nodeName, owner: try state.nodeOwner(), timing: options.nodeTiming, logger: logger)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.eventLoops))
        let loops = Array(group.makeIterator())
        // SQLite writes that wait for the disk (the decision log) run here, off the event loops.
        let blockingIO = NIOThreadPool(numberOfThreads: 1)
        blockingIO.start()
        let outbound = ControlPlaneClient(eventLoopGroup: group)
        /// Undoes the three above, once every service has stopped (or none started), and leaves the
        /// node registry (already done when the services ran and stopped).
        func releaseShared() async {
            await membership.leave()
            try? await outbound.shutdown()
            try? await blockingIO.shutdownGracefully()
            try? await group.shutdownGracefully()
        }
        let registry = PrometheusCollectorRegistry()
        let accessLog: AccessLog
        do {
            accessLog = try AccessLog(destination: options.accessLog, registry: registry)
        } catch {
            await releaseShared()
            throw error
        }
        let telemetry = RequestTelemetry(registry: registry, accessLog: accessLog)
        let decisions = DecisionRecorder(
            log: decisionLog, retention: options.decisionRetention, bounds: options.decisionBounds, registry: registry, blockingIO: blockingIO, logger: logger,
            recentAllowed: options.allowedDecisionsOnDisk ? nil : RecentAllowedDecisions())
        let functionIdentities = FunctionIdentities(stateDirectory: state.url, logger: logger)
        let sandbox = FunctionSandbox(stateDirectory: state.url)
        let runtime = FunctionRuntime(
            eventLoops: loops, records: state.instanceRecords, observer: telemetry.lifecycleObserver,
            configuration: .init(stopGrace: options.stopGrace, identities: functionIdentities, sandbox: sandbox), logger: logger)
        let keys = KeyDirectory(client: outbound, logger: logger)
        // On PostgreSQL token buckets are the mesh's: `RateLimitSharing` below.
        let limiters = RateLimiters(shared: options.postgresStore != nil)
        let eventBroker = EventBroker(store: eventStore, metrics: EventMetrics(registry: registry))
        let events = EventsWiring(broker: eventBroker, calls: AsyncCalls(broker: eventBroker))
        let issuer = GatehouseIssuer()
        let login = LoginWiring(sessions: loginSessions, clients: LoginClients(keys: keys))
        let live = LiveConfig(
            ActiveConfig(snapshot: ConfigSnapshot(), pools: [:], keys: keys, limiters: limiters, issuer: issuer, events: events, login: login),
            keys: keys, limiters: limiters,
            keepsTraces: options.keptTraces > 0, events: events)
        let remotes = RemoteFunctions(
            eventLoops: loops, credentials: state.url.appendingPathComponent("credentials"), identities: functionIdentities)
        let controller = ConfigController(store: store, runtime: runtime, remotes: remotes, live: live, logger: logger)
        let bootstrap: ChangeSummary?
        do {
            bootstrap = try await controller.bootstrap(files: options.configFiles, actor: "\(Self.userName) (gatehouse up -f)")
            for notice in bootstrap?.notices ?? [] { logger.notice("\(notice)") }
        } catch {
            await releaseShared()
            throw StartupFailure(description: error.description)
        }
        let snapshot = await controller.snapshot
        let mesh = snapshot.mesh
        // Before any instance starts (they are launched once the services run): said once.
        sandbox.useUsers(mesh.functionUsers)
        // Said once: in the summary for a person, or as warnings in structured logs.
        let gaps = await sandbox.setUp().map { "isolation: \($0)" }
        if !options.startupSummary { for gap in gaps { logger.warning("\(gap)") } }
        if snapshot.functions.isEmpty, !options.startupSummary {
            logger.warning("no functions configured; every request will get 404 until one is applied")
        }

        let ingressAddress = options.ingress ?? mesh.ingress
        let adminAddress = options.admin ?? mesh.admin
        let meshAddress = options.mesh ?? mesh.mesh
        let identity: MeshIdentity
        do {
            if let tokenFile = options.joinTokenFile, mesh.certificateAuthority == nil {
                try await NodeJoin.joinIfNeeded(stateDirectory: state.url, tokenFile: tokenFile, store: store, node: options.nodeName, logger: logger)
            }
            identity = try MeshIdentity(stateDirectory: state.url, mesh: mesh, eventLoop: loops[0], logger: logger) { [functionIdentities] authority in
                functionIdentities.use(authority)
            }
        } catch {
            await releaseShared()
            throw StartupFailure(description: "cannot set up the mesh identity: \(error)")
        }
        var pipeline = RequestPipeline(live: live)
        if options.postgresStore != nil {
            // Nodes sharing PostgreSQL share the mesh's CA: each revision runs on its home node.
            let placement = NodePlacement(node: nodeName.value, identity: identity, eventLoops: loops) { [runtime] placement in
                runtime.place { placement.home(of: $0) != nil }
            }
            membership.follow(placement) { [identity] in (identity.rootFingerprints, identity.gatewayCertificateHashes) }
            pipeline.placement = placement
        }
        // Checkpoints are signed under the CA the mesh identity follows (rotations included).
        let auditSigner = AuditSigner(
            directory: StateDirectory.auditDirectory(in: state.url), trustDomain: mesh.trustDomain, namespace: mesh.rootNamespace
        ) { [identity] in identity.authority }
        let audit = AuditTrail(log: auditLog, signer: auditSigner, settings: options.audit, registry: registry, logger: logger)
        do {
            try await recordStart(audit, identity: identity, bootstrap: bootstrap, state: state)
        } catch {
            await releaseShared()
            throw StartupFailure(description: "cannot write the audit log \(auditLocation): \(error)")
        }
        let traces = options.keptTraces > 0 ? RecentTraces(recentCapacity: options.keptTraces) : nil
        let exporter = SpanExporter(client: outbound, registry: registry, meshId: mesh.trustDomain, version: "gatehouse", logger: logger)
        let tracing = Tracing(recent: traces, exporter: exporter) { [live] in live.active.unroutedTelemetry.policy.tracing }
        let observer = ExchangeObserverFanOut.gateway(telemetry: telemetry, live: live, decisions: decisions, tracing: tracing, audit: audit)
        let listener: IngressListener
        let meshListener: IngressListener
        do {
            listener = try await IngressListener.bind(
                host: ingressAddress.host, port: ingressAddress.port, eventLoops: loops, group: group,
                limits: options.limits, processor: pipeline, observer: observer, renderer: ErrorResponses(), traces: live.traces)
        } catch {
            await releaseShared()
            throw ListenerFailure(name: "ingress", address: ingressAddress, underlying: error)
        }
        do {
            // The same request path; requests here carry the peer's verified identity.
            meshListener = try await IngressListener.bind(
                host: meshAddress.host, port: meshAddress.port, eventLoops: loops, group: group,
                limits: options.limits, processor: NodeHopReceiver(live: live, gateway: identity.gatewayPrincipal, placement: pipeline.placement, next: MeshTraffic(next: pipeline)), observer: observer, renderer: ErrorResponses(), tls: identity.tls,
                traces: live.traces)
        } catch {
            await listener.shutdown(grace: .zero)
            await releaseShared()
            throw ListenerFailure(name: "mesh", address: meshAddress, underlying: error)
        }

        // The Gateways' HTTPS servers: TLS listeners on the ingress's host, at their own ports.
        var gatewayListeners: [IngressListener] = []
        do {
            for server in try GatewayServers.listeners(
                for: snapshot.gateways, credentials: state.url.appendingPathComponent("credentials"), mesh: identity, logger: logger) {
                gatewayListeners.append(try await IngressListener.bind(
                    host: ingressAddress.host, port: server.port, eventLoops: loops, group: group, limits: options.limits,
                    processor: GatewayHostFilter(servers: server.servers, next: pipeline), observer: observer,
                    renderer: ErrorResponses(), tls: server.tls, traces: live.traces))
                logger.info("gateway server listening", metadata: ["url": "https://\(ingressAddress.host):\(server.port)"])
            }
        } catch {
            for bound in gatewayListeners { await bound.shutdown(grace: .zero) }
            await meshListener.shutdown(grace: .zero)
            await listener.shutdown(grace: .zero)
            await releaseShared()
            throw StartupFailure(description: "cannot serve the Gateway's HTTPS servers: \(error)")
        }

        // Before any instance starts: they are launched only once the services below run.
        functionIdentities.configure(.init(
            authority: identity.authority, trustDomain: identity.trustDomain, lifetime: identity.lifetime,
            meshURL: "https://\(Self.bracketed(meshAddress.host)):\(meshListener.port)"))
        let readiness = Readiness()
        let ingressPort = listener.port
        // Gatehouse as an issuer: its key under the CA, before the first request is forwarded.
        let assertionKeys = AssertionKeyStore(
            directory: StateDirectory.issuerDirectory(in: state.url), issuerURL: mesh.issuerURL(ingressPort: ingressPort),
            trustDomain: mesh.trustDomain, namespace: mesh.rootNamespace, issuer: issuer, logger: logger
        ) { [identity] in identity.authority }
        do {
            try assertionKeys.refresh()
        } catch {
            await releaseShared()
            throw StartupFailure(description: "cannot set up the assertion signing key in \(state.url.path)/issuer: \(error)")
        }
        let token = options.adminToken ?? .random()
        do {
            try state.writeToken(token)
        } catch {
            await releaseShared()
            throw error
        }
        let localInvoker = LocalInvoker(
            processor: pipeline, loops: loops, observer: observer, renderer: ErrorResponses(), limits: options.limits,
            ingress: (ingressAddress.host, ingressPort))
        var api = AdminAPI(
            controller: controller, runtime: runtime, store: store, decisions: decisions.lookup, ingressPort: ingressPort, logger: logger,
            meshPort: meshListener.port, traces: traces, meshId: mesh.trustDomain,
            invoker: localInvoker)
        let eventInvoker = LocalEventInvoker(invoker: localInvoker, trustDomains: mesh.meshTrustDomains)
        let eventsService = EventsService(
            dispatcher: EventDispatcher(broker: eventBroker, invoker: eventInvoker, owner: nodeName.value, logger: logger) { [live] in
                let active = live.active
                return (active.brokers, active.snapshot.rateLimits)
            },
            // On PostgreSQL the event queue is the mesh's: `fire` claims a minute for the whole
            // mesh in the transaction that stores its tick.
            scheduler: PingScheduler(broker: eventBroker, logger: logger) { [live] in
                let active = live.active
                return (active.brokers, active.snapshot.pingSources)
            },
            calls: AsyncCallRunner(calls: events.calls, invoker: eventInvoker, owner: nodeName.value, logger: logger))
        api.events = events
        api.dispatcher = eventsService.dispatcher
        api.audit = audit
        api.stateDirectory = state.url
        api.nodes = nodeRegistry
        // The admin API over mutual TLS, for the Mesh's admin SPIFFE IDs; its URL goes into
        // endpoints.json (written once the plain admin listener runs, after this one is bound).
        let adminMtlsURL = Promised<String?>()
        var adminMtls: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if mesh.adminIdentities.isEmpty {
            await adminMtlsURL.fulfill(nil)
        } else {
            let address = mesh.adminMtls
            do {
                adminMtls.append(.init(service: try AdminServer.makeMutual(
                    group: group, host: address.host, port: address.port, extraHosts: mesh.adminHosts, api: api, identity: identity, admins: mesh.adminIdentities, logger: logger
                ) { port in
                    await adminMtlsURL.fulfill("https://\(address.host):\(port)")
                }))
            } catch {
                await releaseShared()
                throw StartupFailure(description: "cannot set up the admin API over mutual TLS: \(error)")
            }
        }
        let admin = AdminServer.make(
            group: group, host: adminAddress.host, port: adminAddress.port, extraHosts: mesh.adminHosts, telemetry: telemetry, readiness: readiness, api: api,
            token: token, logger: logger
        ) { [logger, snapshot] adminPort in
            var endpoints = StateDirectory.Endpoints(
                ingress: "http://\(Self.bracketed(ingressAddress.host)):\(ingressPort)",
                admin: "http://\(Self.bracketed(adminAddress.host)):\(adminPort)", mesh: "https://\(Self.bracketed(meshAddress.host)):\(meshListener.port)",
                domain: mesh.domain, pid: getpid())
            endpoints.adminMtls = await adminMtlsURL.value
            // In the registry before endpoints.json says this node is up.
            await membership.announce(NodeAddresses(
                ingress: endpoints.ingress, mesh: options.advertiseHost.map { "https://\(Self.bracketed($0)):\(meshListener.port)" } ?? endpoints.mesh,
                admin: endpoints.admin, adminMtls: endpoints.adminMtls))
            do { try state.writeEndpoints(endpoints) } catch { logger.error("cannot write endpoints.json: \(error)") }
            readiness.set(true)
            let functions = snapshot.functions.map { spec in
                (name: spec.key.description, url: HostRouter.url(for: spec, domain: mesh.domain, port: ingressPort))
            }
            guard options.startupSummary else {
                logger.info("gatehouse is up", metadata: [
                    "ingress": "\(endpoints.ingress)", "admin": "\(endpoints.admin)", "mesh": "\(endpoints.mesh ?? "")",
                    "state": "\(state.url.path)", "node": "\(nodeName)",
                ])
                for function in functions { logger.info("function \(function.name) at \(function.url)") }
                return
            }
            var summary = StartupSummary(
                ingress: endpoints.ingress, mesh: endpoints.mesh, admin: endpoints.admin, adminMtls: endpoints.adminMtls,
                stateDirectory: state.url.path, tokenFile: StateDirectory.tokenFile(in: state.url).path, functions: functions,
                accessLog: options.accessLog, notEnforced: gaps)
            if options.postgresStore != nil || options.storePath != nil { summary.node = nodeName.value }
            FileHandle.standardError.write(Data(summary.text.utf8))
        }

        // Nodes sharing a PostgreSQL store join the mesh's CA through it; a node holding the root answers.
        let joinSigner: [ServiceGroupConfiguration.ServiceConfiguration] = (store as? any NodeJoining).map {
            [.init(service: JoinSigner(store: $0, identity: identity, audit: audit, logger: logger)),
             .init(service: NodeCARenewal(store: $0, directory: state.url.appendingPathComponent("ca"), node: nodeName.value, audit: audit, logger: logger))]
        } ?? []
        let rateSharing: [ServiceGroupConfiguration.ServiceConfiguration] = (store as? any SharedRateLimits).map {
            [.init(service: RateLimitSharing(limiters: limiters, store: $0, node: nodeName.value, logger: logger))]
        } ?? []
        let services = ServiceGroup(
            configuration: .init(
                services: [
                    // Stops last: JWT key refreshes and external authorizers call out until then.
                    .init(service: outbound),
                    .init(service: runtime),
                    .init(service: accessLog),
                    .init(service: decisions),
                    .init(service: exporter),
                    // Stops after the listeners and the admin API: their last records, then
                    // `gatehouse.stopped` and a final checkpoint.
                    .init(service: audit),
                    .init(service: keys),
                ] + adminMtls + [
                    .init(service: admin),
                    .init(service: ReloadOnHangup(controller: controller, files: options.configFiles, logger: logger, audit: audit)),
                    .init(service: StoreFollower(store: store, controller: controller, logger: logger)),
                    .init(service: identity),
                    .init(service: assertionKeys),
                ] + joinSigner + rateSharing + [
                    // Stops right after the listeners: deliveries and async calls use the instance pools.
                    .init(service: eventsService),
                    .init(service: IngressService(
                        listener: meshListener, drainGrace: options.drainGrace,
                        idleSweepInterval: min(.seconds(5), options.limits.idleTimeout / 2, options.limits.requestBodyIdleTimeout / 2), readiness: readiness)),
                    .init(service: IngressService(
                        listener: listener, drainGrace: options.drainGrace,
                        idleSweepInterval: min(.seconds(5), options.limits.idleTimeout / 2, options.limits.requestBodyIdleTimeout / 2), readiness: readiness)),
                ] + gatewayListeners.map { gateway in
                    .init(service: IngressService(
                        listener: gateway, drainGrace: options.drainGrace,
                        idleSweepInterval: min(.seconds(5), options.limits.idleTimeout / 2, options.limits.requestBodyIdleTimeout / 2), readiness: readiness))
                } + [
                    // Stops first: the other nodes see this one leave as soon as it starts draining.
                    .init(service: membership),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await Self.run(services, logger: logger)
        } catch {
            await sandbox.tearDown()
            await releaseShared()
            throw error
        }
        await sandbox.tearDown()
        await releaseShared()
        logger.info("gatehouse stopped")
    }
}

extension Gatehouse {
    /// A host for a URL: an IPv6 address in brackets.
    static func bracketed(_ host: String) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    }

    /// Runs the group. The first SIGTERM or SIGINT drains (the group's graceful shutdown); a second
    /// one — a second Ctrl-C — stops at once: in-flight requests are cut instead of waited for,
    /// and the instances are still stopped.
    static func run(_ services: ServiceGroup, logger: Logger) async throws {
        let group = Task { try await services.run() }
        let seen = NIOLockedValueBox(0)
        // The group traps these signals for its own sources; a second source sees them too.
        let sources = [SIGTERM, SIGINT].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
        for source in sources {
            source.setEventHandler {
                let count = seen.withLockedValue { count in
                    count += 1
                    return count
                }
                guard count == 2 else { return }
                logger.notice("second signal: stopping now, without waiting for requests in flight")
                group.cancel()
            }
            source.resume()
        }
        defer {
            // Stopping already: a signal from now on (a supervisor sending SIGTERM again, a third
            // Ctrl-C) must not end the process by the default action while it releases the node
            // and its event loops — it would exit 143 after a clean stop.
            signal(SIGTERM, SIG_IGN)
            signal(SIGINT, SIG_IGN)
            for source in sources { source.cancel() }
        }
        try await withTaskCancellationHandler { try await group.value } onCancel: { group.cancel() }
    }
}

/// The stored or given config cannot be served; nothing was started.
public struct StartupFailure: Error, CustomStringConvertible {
    public let description: String
}

extension Gatehouse {
    /// Who ran `gatehouse up`, for the history.
    static var userName: String {
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())"
    }
}

public struct ListenerFailure: Error, CustomStringConvertible {
    public let name: String
    public let address: ListenAddress
    public let underlying: any Error
    public var description: String {
        "cannot listen for \(name) on \(address): \(underlying); choose another address with --\(name) HOST:PORT (port 0 picks a free one)"
    }
}
