import Foundation
import GatehouseCore

/// Decodes the `gatehouse.dev/v1` `Mesh`: settings shared by every function; every field is optional.
enum MeshDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> MeshSpec {
        var mesh = MeshSpec(source: envelope.location)
        defer { envelope.root.reportUnknownKeys() }
        guard let spec = envelope.root.field("spec")?.mapping() else { return mesh }
        if let field = spec.field("trustDomain"), let value = nonEmptyString(field) {
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-_")
            if value.allSatisfy(allowed.contains) {
                mesh.trustDomain = value
            } else {
                field.report("\"\(value)\" is not a SPIFFE trust domain (lower-case letters, digits, `.`, `-`, `_`)",
                             fix: "write e.g. `trustDomain: \(value.lowercased().filter { allowed.contains($0) })`")
            }
        }
        if let field = spec.field("trustDomainAliases"), let elements = field.sequence() {
            for element in elements {
                guard let value = element.string() else { continue }
                if !value.isEmpty, value.allSatisfy(Set("abcdefghijklmnopqrstuvwxyz0123456789.-_").contains) {
                    mesh.trustDomainAliases.append(value)
                } else {
                    element.report("\"\(value)\" is not a SPIFFE trust domain (lower-case letters, digits, `.`, `-`, `_`)",
                                   fix: "write the other mesh's trust domain, e.g. `old.example`")
                }
            }
        }
        if let field = spec.field("rootNamespace"), let value = field.string() {
            if let problem = NameRules.dns1123LabelProblem(value) {
                field.report(problem, fix: "write `rootNamespace: \(NameRules.suggestedLabel(for: value))`")
            }
            mesh.rootNamespace = value
        }
        if let value = nonEmptyString(spec.field("domain")) { mesh.domain = value }
        if let field = spec.field("issuer"), let value = nonEmptyString(field) {
            // `iss` of every assertion and the base of the metadata (RFC 8414 §2: no query, no fragment).
            if let url = URL(string: value), url.scheme == "https" || url.scheme == "http", url.host != nil,
               url.query == nil, url.fragment == nil, !value.hasSuffix("/") {
                mesh.issuer = value
            } else {
                field.report("\"\(value)\" is not an issuer URL (http or https, a host, no query, fragment or trailing slash)",
                             fix: "write the URL that reaches the ingress, e.g. \"https://gatehouse.example.com\"")
            }
        }
        if let field = spec.field("numTrustedProxies"), let count = field.int() {
            if (0...16).contains(count) {
                mesh.numTrustedProxies = count
            } else {
                field.report("must be between 0 and 16, got \(count)", fix: "write the number of proxies in front of Gatehouse, e.g. 1")
            }
        }
        if let field = spec.field("functionUsers"), let text = field.string() {
            let bounds = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            if bounds.count == 2, let low = bounds[0], let high = bounds[1], 1000 <= low, low <= high, high < Int(UInt32.max) {
                mesh.functionUsers = low...high
            } else {
                field.report("\"\(text)\" is not a uid range FIRST-LAST of unprivileged ids (1000 or more)", fix: "write e.g. `functionUsers: \"61184-65519\"`")
            }
        }
        if let field = spec.field("maxHops"), let hops = field.int() {
            if (0...255).contains(hops) {
                mesh.maxHops = hops
            } else {
                field.report("must be between 0 (no limit) and 255, got \(hops)", fix: "write e.g. 16")
            }
        }
        if let identity = spec.field("identity")?.mapping() {
            if let field = identity.field("svidTTL"), let lifetime = field.positiveDuration() {
                if lifetime < .seconds(2) || lifetime > .seconds(90 * 24 * 3600) {
                    field.report("must be between 2s and 2160h", fix: "write e.g. \"24h\" (Istio's default)")
                } else {
                    mesh.svidLifetime = lifetime
                }
            }
            if let ca = identity.field("ca")?.mapping() {
                let base = envelope.location.directory
                func path(_ key: String, required: Bool) -> String? {
                    let value = required ? ca.required(key, fix: "add `\(key):` with a PEM file's path") : ca.field(key)
                    guard let text = value?.string() else { return nil }
                    return text.hasPrefix("/") ? text : URL(fileURLWithPath: base).appendingPathComponent(text).standardized.path
                }
                if let cert = path("certFile", required: true), let key = path("keyFile", required: true) {
                    mesh.certificateAuthority = .init(certFile: cert, keyFile: key, rootCertFile: path("rootCertFile", required: false))
                }
                ca.reportUnknownKeys()
            }
            for value in identity.field("adminIdentities")?.sequence() ?? [] {
                guard let id = value.string() else { continue }
                let parts = id.split(separator: "/", omittingEmptySubsequences: false)
                guard id.hasPrefix("spiffe://"), parts.count > 3, !parts[2].isEmpty, !id.contains("?"), !id.contains("#") else {
                    value.report("\"\(id)\" is not a SPIFFE ID", fix: "write e.g. \"spiffe://cluster.local/ns/ops/sa/deployer\"")
                    continue
                }
                mesh.adminIdentities.append(id)
            }
            identity.reportUnknownKeys()
        }
        for entry in spec.field("extensionProviders")?.sequence() ?? [] {
            guard let provider = extensionProvider(entry, directory: envelope.location.directory) else { continue }
            let names = mesh.extensionProviders.map(\.name) + mesh.tracingProviders.map(\.name) + mesh.loginProviders.map(\.name)
            if names.contains(where: { $0.lowercased() == provider.name.lowercased() }) {
                entry.report("a second extension provider named \"\(provider.name)\"", fix: "give each provider its own name")
            } else if BuiltInTelemetryProvider.names.contains(provider.name.lowercased()) {
                entry.report(
                    "\"\(provider.name)\" is the name of a built-in provider (Gatehouse's \(provider.name == BuiltInTelemetryProvider.accessLog ? "access log" : "metrics"))",
                    fix: "give this provider another name")
            }
            switch provider {
            case .externalAuthorizer(let authorizer): mesh.extensionProviders.append(authorizer)
            case .openTelemetry(let collector): mesh.tracingProviders.append(collector)
            case .oidc(let login): mesh.loginProviders.append(login)
            }
        }
        if let defaults = spec.field("defaultProviders")?.mapping() {
            mesh.defaultProviders = defaultProviders(defaults)
        }
        if let field = spec.field("defaultConfig")?.mapping(), let sampling = tracingSampling(field) {
            mesh.tracingSampling = sampling
        }
        if let listeners = spec.field("listeners")?.mapping() {
            if let ingress = listenAddress(listeners.field("ingress")) { mesh.ingress = ingress }
            if let admin = listenAddress(listeners.field("admin")) { mesh.admin = admin }
            if let meshListener = listenAddress(listeners.field("mesh")) { mesh.mesh = meshListener }
            if let adminMtls = listenAddress(listeners.field("adminMtls")) { mesh.adminMtls = adminMtls }
            for value in listeners.field("adminHosts")?.sequence() ?? [] {
                if let name = adminHost(value) { mesh.adminHosts.append(name) }
            }
            listeners.reportUnknownKeys()
        }
        spec.reportUnknownKeys()
        return mesh
    }

    /// A name the admin listeners answer to: a DNS name or an IP address, without port or scheme.
    private static func adminHost(_ value: YAMLValue) -> String? {
        guard let text = value.string() else { return nil }
        let name = text.lowercased()
        let bracketed = name.hasPrefix("[") && name.hasSuffix("]")
        let ipv6 = bracketed || name.filter({ $0 == ":" }).count > 1
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-" + (ipv6 ? ":[]" : ""))
        guard !name.isEmpty, name.allSatisfy(allowed.contains) else {
            value.report(
                "\"\(text)\" is not a host name or address (no scheme, port, path or wildcard)",
                fix: "write the name clients use in `Host`, e.g. \"gatehouse.internal\" or \"10.0.0.5\"")
            return nil
        }
        return ipv6 && !bracketed ? "[\(name)]" : name
    }

    /// One `extensionProviders` entry: an external authorizer, a trace collector or an OIDC provider people log in with.
    enum ExtensionProvider {
        case externalAuthorizer(ExtAuthzProvider)
        case openTelemetry(OpenTelemetryProvider)
        case oidc(OIDCLoginProvider)

        var name: String {
            switch self {
            case .externalAuthorizer(let provider): provider.name
            case .openTelemetry(let provider): provider.name
            case .oidc(let provider): provider.name
            }
        }
    }

    /// Istio's `extensionProviders[]`: `envoyExtAuthzHttp` or `opentelemetry`, and Gatehouse's `oidc`;
    /// the other provider kinds are refused by name.
    private static func extensionProvider(_ value: YAMLValue, directory: String) -> ExtensionProvider? {
        guard let entry = value.mapping() else { return nil }
        defer { entry.reportUnknownKeys() }
        let name = entry.required("name", fix: "add `name:`, the name CUSTOM policies or Telemetry providers use")?.string()
        for other in ["envoyExtAuthzGrpc", "zipkin", "lightstep", "datadog", "stackdriver", "opencensus", "skywalking",
                      "prometheus", "envoyFileAccessLog", "envoyHttpAls", "envoyTcpAls", "envoyOtelAls", "sds"] {
            entry.field(other)?.report(
                "`\(other)` providers are not supported",
                fix: "use `envoyExtAuthzHttp` (external authorizer) or `opentelemetry` (traces over OTLP/HTTP); "
                    + "the access log and Prometheus metrics are built in as `envoy` and `prometheus`")
        }
        if let collector = entry.field("opentelemetry") {
            guard let name, let mapping = collector.mapping() else { return nil }
            return openTelemetryProvider(mapping, name: name).map(ExtensionProvider.openTelemetry)
        }
        if let login = entry.field("oidc") {
            guard let name, let mapping = login.mapping() else { return nil }
            return oidcProvider(mapping, name: name, directory: directory).map(ExtensionProvider.oidc)
        }
        guard let http = entry.required("envoyExtAuthzHttp", fix: "add `envoyExtAuthzHttp:` with `service` and `port`, `opentelemetry:` or `oidc:`")?.mapping(),
              let name else { return nil }
        defer { http.reportUnknownKeys() }
        guard let service = http.required("service", fix: "add `service:`, the authorizer's host name or address")?.string(),
              let portValue = http.required("port", fix: "add `port:`, the authorizer's port"), let port = portValue.int() else { return nil }
        guard (1...65535).contains(port) else {
            portValue.report("must be between 1 and 65535, got \(port)", fix: "write the authorizer's port")
            return nil
        }
        var provider = ExtAuthzProvider(name: name, service: service, port: port)
        if let field = http.field("pathPrefix"), let prefix = field.string() {
            if prefix.hasPrefix("/") { provider.pathPrefix = prefix } else { field.report("must start with /", fix: "write e.g. /check") }
        }
        if let timeout = http.field("timeout")?.positiveDuration() { provider.timeout = timeout }
        if let failOpen = http.field("failOpen")?.bool() { provider.failOpen = failOpen }
        if let field = http.field("statusOnError"), let text = field.text() {
            if let status = Int(text), (200...599).contains(status) {
                provider.statusOnError = status
            } else {
                field.report("\"\(text)\" is not an HTTP status", fix: "write e.g. \"503\"")
            }
        }
        provider.includeRequestHeadersInCheck = (http.field("includeRequestHeadersInCheck")?.stringList() ?? []).map { $0.lowercased() }
        provider.includeAdditionalHeadersInCheck = http.field("includeAdditionalHeadersInCheck")?.stringMap() ?? [:]
        provider.headersToUpstreamOnAllow = (http.field("headersToUpstreamOnAllow")?.stringList() ?? []).map { $0.lowercased() }
        provider.headersToDownstreamOnDeny = (http.field("headersToDownstreamOnDeny")?.stringList() ?? []).map { $0.lowercased() }
        if let body = http.field("includeRequestBodyInCheck") {
            body.report("sending the request body to the authorizer is not supported", fix: "remove `includeRequestBodyInCheck`")
        }
        return .externalAuthorizer(provider)
    }

    private static func nonEmptyString(_ value: YAMLValue?) -> String? {
        guard let value, let text = value.string() else { return nil }
        guard !text.isEmpty else {
            value.report("must not be empty", fix: "remove the field to use the default")
            return nil
        }
        return text
    }

    private static func listenAddress(_ value: YAMLValue?) -> ListenAddress? {
        guard let value, let text = value.string() else { return nil }
        guard let address = ListenAddress(parsing: text) else {
            value.report("invalid listen address \"\(text)\"", fix: "write HOST:PORT with a port from 0 to 65535, e.g. \"127.0.0.1:8080\"")
            return nil
        }
        return address
    }
}
