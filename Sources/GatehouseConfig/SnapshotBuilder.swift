import GatehouseCore
import Yams

/// Accumulates decoded documents from every source and enforces the rules that span documents
/// (one Mesh, one document per resource key).
struct SnapshotBuilder {
    private var mesh: MeshSpec?
    private(set) var functions: [FunctionSpec] = []
    private var istioResources: [IstioResource] = []
    private var authorizationPolicies: [AuthorizationPolicySpec] = []
    private var requestAuthentications: [RequestAuthenticationSpec] = []
    private var peerAuthentications: [PeerAuthenticationSpec] = []
    private var destinationRules: [DestinationRuleSpec] = []
    private var gateways: [GatewaySpec] = []
    private(set) var virtualServices: [VirtualServiceSpec] = []
    private(set) var rateLimits: [RateLimitPolicySpec] = []
    private var loginPolicies: [LoginPolicySpec] = []
    private(set) var delegationPolicies: [DelegationPolicySpec] = []
    private var telemetries: [TelemetrySpec] = []
    private var telemetryProviders: [TelemetryDecoder.ProviderReference] = []
    private(set) var brokers: [BrokerSpec] = []
    private(set) var triggers: [TriggerSpec] = []
    private(set) var pingSources: [PingSourceSpec] = []
    private(set) var eventPolicies: [EventPolicySpec] = []
    private var notices: [ConfigNotice] = []
    private var documents: [ResourceDocument] = []
    private var documentLocations: [ResourceKey: SourceLocation] = [:]

    /// Decodes one YAML document (already known not to be empty, `text` as written) into the snapshot.
    mutating func add(_ node: Node, text: String, diagnostics: DiagnosticCollector) {
        guard let envelope = DocumentEnvelope.read(node, diagnostics: diagnostics) else { return }
        if envelope.family == .gatehouse || envelope.family == .istio || envelope.family == .knative {
            guard keep(envelope, text: text, diagnostics: diagnostics) else { return }
        }
        if envelope.family == .istio {
            istioResources.append(IstioResource(
                apiVersion: envelope.apiVersion, kind: envelope.kind, namespace: envelope.namespace,
                name: envelope.name, source: envelope.location))
        }
        switch envelope.family {
        case .gatehouse where envelope.kind == "Function":
            addFunction(FunctionDecoder.decode(envelope), envelope: envelope)
        case .gatehouse where envelope.kind == "RateLimitPolicy":
            rateLimits.append(RateLimitPolicyDecoder.decode(envelope))
        case .gatehouse where envelope.kind == "LoginPolicy":
            loginPolicies.append(LoginPolicyDecoder.decode(envelope))
        case .gatehouse where envelope.kind == "DelegationPolicy":
            delegationPolicies.append(DelegationPolicyDecoder.decode(envelope))
        case .gatehouse:
            addMesh(MeshDecoder.decode(envelope), envelope: envelope, diagnostics: diagnostics)
        case .istio where envelope.kind == "AuthorizationPolicy":
            authorizationPolicies.append(AuthorizationPolicyDecoder.decode(envelope))
        case .istio where envelope.kind == "PeerAuthentication":
            peerAuthentications.append(PeerAuthenticationDecoder.decode(envelope))
        case .istio where envelope.kind == "RequestAuthentication":
            requestAuthentications.append(RequestAuthenticationDecoder.decode(envelope))
        case .istio where envelope.kind == "Gateway":
            gateways.append(GatewayDecoder.decode(envelope))
        case .istio where envelope.kind == "VirtualService":
            let (service, unenforced) = VirtualServiceDecoder.decode(envelope)
            virtualServices.append(service)
            noteUnenforced(unenforced, of: envelope)
        case .istio where envelope.kind == "DestinationRule":
            let (rule, unenforced) = DestinationRuleDecoder.decode(envelope)
            destinationRules.append(rule)
            noteUnenforced(unenforced, of: envelope)
        case .istio where envelope.kind == "Telemetry":
            let decoded = TelemetryDecoder.decode(envelope)
            telemetries.append(decoded.spec)
            telemetryProviders += decoded.providers
            for notice in decoded.notices {
                notices.append(ConfigNotice(location: envelope.location, message: "\(envelope.resourceDescription): \(notice)"))
            }
        case .knative:
            addKnative(envelope)
        case .istio:
            notices.append(ConfigNotice(
                location: envelope.location, message: "\(envelope.resourceDescription): accepted, not enforced yet"))
        case .unsupported:
            notices.append(ConfigNotice(
                location: envelope.location,
                message: "\(envelope.apiVersion) \(envelope.resourceDescription): not supported (ignored)"))
        case .rejected:
            break
        }
    }

    private mutating func addKnative(_ envelope: DocumentEnvelope) {
        let remarks: [String]
        switch envelope.kind {
        case "Broker":
            let decoded = BrokerDecoder.decode(envelope)
            brokers.append(decoded.spec)
            remarks = decoded.notices
        case "Trigger":
            let decoded = TriggerDecoder.decode(envelope)
            if let spec = decoded.spec { triggers.append(spec) }
            remarks = decoded.notices
        case "PingSource":
            let decoded = PingSourceDecoder.decode(envelope)
            if let spec = decoded.spec { pingSources.append(spec) }
            remarks = decoded.notices
        default:
            let decoded = EventPolicyDecoder.decode(envelope)
            eventPolicies.append(decoded.spec)
            remarks = decoded.notices
        }
        for remark in remarks {
            notices.append(ConfigNotice(location: envelope.location, message: "\(envelope.resourceDescription): \(remark)"))
        }
    }

    /// Fields read but not enforced yet: the apply says so instead of failing.
    private mutating func noteUnenforced(_ fields: [String], of envelope: DocumentEnvelope) {
        guard !fields.isEmpty else { return }
        notices.append(ConfigNotice(
            location: envelope.location, message: "\(envelope.resourceDescription): \(fields.joined(separator: ", ")) accepted, not enforced yet"))
    }

    func build() -> ConfigSnapshot {
        let mesh = mesh ?? MeshSpec()
        // A mirror host that names no function gets no copies; Istio accepts it too, so a notice.
        var notices = notices
        for service in virtualServices {
            for route in service.http {
                for mirror in route.mirrors where !functions.contains(where: { $0.isNamed(by: mirror.destination.host, in: service.namespace) }) {
                    notices.append(ConfigNotice(
                        location: route.source ?? service.source ?? SourceLocation(file: "", line: 0, column: 0),
                        message: "VirtualService \(service.reference): mirror host \"\(mirror.destination.host)\" names no function; no copies are sent"))
                }
            }
        }
        // A VirtualService without `gateways` binds to mesh callers only (as in Istio): the ingress
        // still serves the function's host, by the NAME.NAMESPACE convention, past these routes.
        for service in virtualServices where !service.appliesToIngress {
            let served = service.hosts.filter { host in self.functions.contains { $0.isNamed(by: host, in: service.namespace) } }
            guard !served.isEmpty else { continue }
            notices.append(ConfigNotice(
                location: service.source ?? SourceLocation(file: "", line: 0, column: 0),
                message: "VirtualService \(service.reference) routes \(served.joined(separator: ", ")) for mesh callers only "
                    + "(\(service.gateways.isEmpty ? "it has no `gateways`" : "its `gateways` are only `mesh`")); requests through the ingress "
                    + "skip its routes and reach the function directly. To route them too, add a gateway: `gateways: [mesh, gatehouse]`"))
        }
        // Istio picks one Telemetry per level; the others are said to lose, not silently dropped.
        for (loser, winner) in TelemetryPolicies(telemetries: telemetries, mesh: mesh).shadowed(revisions: self.functions) {
            notices.append(ConfigNotice(
                location: loser.source ?? SourceLocation(file: "", line: 0, column: 0),
                message: "Telemetry \(loser.reference) is ignored where Telemetry \(winner.reference) applies: one Telemetry per level "
                    + (loser.isNamespaceWide ? "(namespace-wide)" : "(per workload)") + ", the first by name (Istio takes the oldest)"))
        }
        // A DestinationRule's connection pool limits tighten the function's own scaling.
        let functions = functions.map { function in
            DestinationRuleSpec.rule(for: function, in: destinationRules, rootNamespace: mesh.rootNamespace)?.apply(to: function) ?? function
        }
        return ConfigSnapshot(
            mesh: mesh,
            functions: functions.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) },
            istioResources: istioResources,
            authorizationPolicies: authorizationPolicies,
            requestAuthentications: requestAuthentications,
            peerAuthentications: peerAuthentications,
            destinationRules: destinationRules,
            gateways: gateways,
            virtualServices: virtualServices,
            rateLimits: rateLimits,
            loginPolicies: loginPolicies,
            telemetries: telemetries,
            notices: notices,
            documents: documents,
            brokers: brokers,
            triggers: triggers,
            pingSources: pingSources,
            eventPolicies: eventPolicies,
            delegationPolicies: delegationPolicies.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) })
    }

    /// What only the whole reveals: a CUSTOM policy naming a provider no Mesh declares; HTTPS
    /// servers sharing a port with different TLS modes (one listener has one mode).
    func crossDocumentProblems() -> [ConfigDiagnostic] {
        var problems = unknownProviders() + unknownLoginProviders() + unknownDestinations() + unknownTelemetryProviders()
        var modes: [Int: (GatewaySpec, GatewaySpec.ServerTLS.Mode)] = [:]
        var clientCAs: [Int: (GatewaySpec, String)] = [:]
        for gateway in gateways {
            for server in gateway.servers where server.protocol == "HTTPS" {
                guard let mode = server.tls?.mode else { continue }
                // One listener checks clients against one set of CAs: MUTUAL servers sharing a port
                // must trust the same, or one server's partners could call the other's hosts.
                if mode == .mutual, let tls = server.tls {
                    let trust = tls.caCertificates ?? "credentialName \(tls.credentialName ?? "")"
                    if let (first, firstTrust) = clientCAs[server.port], firstTrust != trust {
                        problems.append(ConfigDiagnostic(
                            location: gateway.source ?? SourceLocation(file: "", line: 0, column: 0), field: "spec.servers.tls.caCertificates",
                            message: "port \(server.port) checks client certificates against \(firstTrust) (Gateway \(first.reference)) but \(trust) here; one port trusts one set of CAs",
                            fix: "give this server its own port, or the same caCertificates"))
                    }
                    if clientCAs[server.port] == nil { clientCAs[server.port] = (gateway, trust) }
                }
                if let (first, firstMode) = modes[server.port], firstMode != mode {
                    problems.append(ConfigDiagnostic(
                        location: gateway.source ?? SourceLocation(file: "", line: 0, column: 0), field: "spec.servers.tls.mode",
                        message: "port \(server.port) is \(firstMode.rawValue) in Gateway \(first.reference) but \(mode.rawValue) here; one port has one TLS mode",
                        fix: "use another port number, or the same mode"))
                }
                if modes[server.port] == nil { modes[server.port] = (gateway, mode) }
            }
        }
        return problems
    }

    /// A VirtualService destination must name a function (Istio would answer 503 at run time; a
    /// config error with a suggestion is kinder).
    private func unknownDestinations() -> [ConfigDiagnostic] {
        var problems: [ConfigDiagnostic] = []
        for service in virtualServices {
            for route in service.http {
                for destination in route.destinations where !functions.contains(where: { $0.isNamed(by: destination.host, in: service.namespace) }) {
                    let names = functions.filter { $0.namespace == service.namespace }.map(\.name)
                    problems.append(ConfigDiagnostic(
                        location: route.source ?? service.source ?? SourceLocation(file: "", line: 0, column: 0),
                        field: "spec.http.route.destination.host",
                        message: "VirtualService \(service.reference): destination host \"\(destination.host)\" names no function",
                        fix: Spelling.suggestion(for: destination.host, among: names).map { "did you mean \"\($0)\"?" }
                            ?? "name a function: NAME (in namespace \(service.namespace)) or NAME.NAMESPACE.svc.cluster.local"))
                }
            }
        }
        return problems
    }

    private func unknownProviders() -> [ConfigDiagnostic] {
        let providers = (mesh ?? MeshSpec()).extensionProviders.map(\.name)
        return authorizationPolicies.compactMap { policy in
            guard policy.action == .custom, let name = policy.provider, !providers.contains(name) else { return nil }
            let known = providers.isEmpty ? "the Mesh declares no extensionProviders" : "declared: \(providers.joined(separator: ", "))"
            return ConfigDiagnostic(
                location: policy.source ?? SourceLocation(file: "", line: 0, column: 0), field: "spec.provider.name",
                message: "CUSTOM policy \(policy.reference) names provider \"\(name)\", which is not declared; \(known)",
                fix: Spelling.suggestion(for: name, among: providers).map { "did you mean \"\($0)\"?" }
                    ?? "add it to the Mesh's `extensionProviders` (envoyExtAuthzHttp with service and port)")
        }
    }

    /// A LoginPolicy must name an `oidc` provider the Mesh declares.
    private func unknownLoginProviders() -> [ConfigDiagnostic] {
        let mesh = mesh ?? MeshSpec()
        let providers = mesh.loginProviders.map(\.name)
        return loginPolicies.compactMap { policy in
            guard !policy.provider.isEmpty, !providers.contains(policy.provider) else { return nil }
            let known = providers.isEmpty ? "the Mesh declares no `oidc` extensionProviders" : "declared: \(providers.joined(separator: ", "))"
            let elsewhere = (mesh.extensionProviders.map(\.name) + mesh.tracingProviders.map(\.name)).contains(policy.provider) ? " (it is not an `oidc` provider)" : ""
            return ConfigDiagnostic(
                location: policy.source ?? SourceLocation(file: "", line: 0, column: 0), field: "spec.provider",
                message: "LoginPolicy \(policy.reference) names provider \"\(policy.provider)\", which is not declared\(elsewhere); \(known)",
                fix: Spelling.suggestion(for: policy.provider, among: providers).map { "did you mean \"\($0)\"?" }
                    ?? "add it to the Mesh: `extensionProviders: [{name: \(policy.provider), oidc: {issuer: …, clientID: …, clientSecretFile: …}}]`")
        }
    }

    /// Every provider a Telemetry or the Mesh's `defaultProviders` names must be one its section can
    /// use: a declared `opentelemetry` provider for tracing, `envoy` for access logging, `prometheus`
    /// for metrics.
    private func unknownTelemetryProviders() -> [ConfigDiagnostic] {
        let mesh = mesh ?? MeshSpec()
        var references = telemetryProviders
        let meshLocation = mesh.source ?? SourceLocation(file: "", line: 0, column: 0)
        for (section, names) in [(TelemetryDecoder.ProviderReference.Section.tracing, mesh.defaultProviders.tracing),
                                 (.accessLogging, mesh.defaultProviders.accessLogging), (.metrics, mesh.defaultProviders.metrics)] {
            for name in names ?? [] {
                references.append(.init(name: name, section: section, location: meshLocation, field: "spec.defaultProviders.\(section.rawValue)"))
            }
        }
        return references.compactMap { reference in
            let usable: [String]
            let kind: String
            switch reference.section {
            case .tracing:
                usable = mesh.tracingProviders.map(\.name)
                kind = "tracing providers (opentelemetry)"
            case .accessLogging:
                usable = [BuiltInTelemetryProvider.accessLog]
                kind = "access-logging providers"
            case .metrics:
                usable = [BuiltInTelemetryProvider.metrics]
                kind = "metrics providers"
            }
            guard !usable.contains(where: { $0.lowercased() == reference.name.lowercased() }) else { return nil }
            let declared = usable.isEmpty ? "the Mesh declares no \(kind)" : "\(kind): \(usable.joined(separator: ", "))"
            let elsewhere = mesh.extensionProviders.contains { $0.name == reference.name } ? " (it is an external authorizer)" : ""
            return ConfigDiagnostic(
                location: reference.location, field: reference.field,
                message: "\(reference.section.rawValue) provider \"\(reference.name)\" is not declared\(elsewhere); \(declared)",
                fix: Spelling.suggestion(for: reference.name, among: usable).map { "did you mean \"\($0)\"?" }
                    ?? (reference.section == .tracing
                        ? "declare it in the Mesh: `extensionProviders: [{name: \(reference.name), opentelemetry: {service: …, port: 4318, http: {path: /v1/traces}}}]`"
                        : "write `\(usable[0])`"))
        }
    }

    /// Records the document for the store; false when another document already has its key.
    private mutating func keep(_ envelope: DocumentEnvelope, text: String, diagnostics: DiagnosticCollector) -> Bool {
        let key = ResourceKey(
            group: ResourceKey.group(ofAPIVersion: envelope.apiVersion), kind: envelope.kind,
            namespace: envelope.namespace, name: envelope.name)
        // A second Mesh is reported by `addMesh`, whatever its name.
        if let first = documentLocations[key], envelope.kind != "Mesh" {
            if let nameValue = envelope.nameValue {
                nameValue.report(
                    "duplicate \(envelope.kind) \(key.namespace)/\(key.name); first defined at \(first.gatehousePrefix)",
                    fix: "rename one of them or delete the duplicate")
            }
            return false
        }
        documentLocations[key] = envelope.location
        documents.append(ResourceDocument(
            key: key, apiVersion: envelope.apiVersion, text: text, file: diagnostics.file,
            lineOffset: diagnostics.lineOffset))
        return true
    }

    private mutating func addFunction(_ function: FunctionSpec, envelope: DocumentEnvelope) {
        guard envelope.nameValue != nil else { return }
        functions.append(function)
    }

    private mutating func addMesh(_ decoded: MeshSpec, envelope: DocumentEnvelope, diagnostics: DiagnosticCollector) {
        if let first = mesh?.source {
            diagnostics.report(
                at: envelope.location, field: "",
                "a second Mesh document; only one is allowed, the first is at \(first.gatehousePrefix)",
                fix: "merge the settings into one Mesh document")
            return
        }
        mesh = decoded
    }
}
