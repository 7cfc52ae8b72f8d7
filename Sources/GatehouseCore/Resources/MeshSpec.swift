/// A `gatehouse.dev/v1` `Mesh`: the settings that are the same for every function.
public struct MeshSpec: Hashable, Sendable {
    /// The SPIFFE trust domain, `cluster.local` as in Istio.
    public var trustDomain: String
    /// Other trust domains whose SVIDs count as the mesh's own (Istio's `meshConfig.trustDomainAliases`):
    /// a client certificate of one of these, on a MUTUAL Gateway, yields `source.principal`,
    /// `source.namespace` and service account like one of `trustDomain`. Any other domain is external.
    public var trustDomainAliases: [String] = []
    /// Policies in this namespace apply mesh-wide, `istio-system` as in Istio.
    public var rootNamespace: String
    /// Functions are reached at `NAME.NAMESPACE.<domain>` (Knative's convention).
    public var domain: String
    public var ingress: ListenAddress
    public var admin: ListenAddress
    /// The mutual TLS listener for callers with an SVID (Istio's inbound port 15443 by default).
    public var mesh = ListenAddress(host: "127.0.0.1", port: 15443)
    /// More names (`spec.listeners.adminHosts`, lowercase) the admin listeners answer to, beside
    /// `localhost`, `127.0.0.1`, `[::1]` and their own address; any other `Host` gets 421. Read at start.
    public var adminHosts: [String] = []
    /// How long the SVIDs Gatehouse issues live; they are renewed at half of it.
    public var svidLifetime: Duration = .seconds(24 * 3600)
    /// SPIFFE IDs that may call the admin API with their SVID instead of the token
    /// (`spec.identity.adminIdentities`), on the `adminMtls` listener, which exists only when this is set.
    public var adminIdentities: [String] = []
    /// The admin API over mutual TLS (istiod's TLS control port, 15012, by default).
    public var adminMtls = ListenAddress(host: "127.0.0.1", port: 15012)
    /// The operator's own CA (`spec.identity.ca`), absolute paths; nil: Gatehouse makes its own.
    public var certificateAuthority: CAFiles?

    public struct CAFiles: Hashable, Sendable {
        /// A root, or an intermediate followed by any further intermediates.
        public var certFile: String
        public var keyFile: String
        /// The root(s) an intermediate chains to.
        public var rootCertFile: String?

        public init(certFile: String, keyFile: String, rootCertFile: String? = nil) {
            self.certFile = certFile
            self.keyFile = keyFile
            self.rootCertFile = rootCertFile
        }
    }
    /// Proxies in front of the ingress whose `X-Forwarded-For` entries are trusted (Istio's
    /// `gatewayTopology.numTrustedProxies`): `remote.ip` is the address that many hops from its right.
    public var numTrustedProxies: Int = 0
    /// The uids (and gids of the same numbers) functions run as when Gatehouse runs as root: each
    /// function gets one of its own (systemd's range for dynamic users by default).
    public var functionUsers: ClosedRange<Int> = 61184...65519
    /// Hops a request may make through Gatehouse (`x-gatehouse-hops`) before 508; 0: no limit.
    public var maxHops: Int = 16
    /// External authorizers CUSTOM AuthorizationPolicies name (Istio's `meshConfig.extensionProviders`).
    public var extensionProviders: [ExtAuthzProvider] = []
    /// Trace collectors Telemetry `tracing` rules name (`extensionProviders[].opentelemetry`).
    /// Provider names are unique across both lists.
    public var tracingProviders: [OpenTelemetryProvider] = []
    /// OpenID Connect providers LoginPolicies name (`extensionProviders[].oidc`); names unique across all three lists.
    public var loginProviders: [OIDCLoginProvider] = []
    /// `spec.defaultProviders`: the providers used where no Telemetry names any.
    public var defaultProviders = DefaultTelemetryProviders()
    /// `spec.defaultConfig.tracing.sampling` (meshConfig's): the percentage of requests traced when
    /// no Telemetry sets `randomSamplingPercentage`; 1 % as in Istio.
    public var tracingSampling: Double = 1.0
    /// `spec.issuer`: Gatehouse's issuer URL as the functions and OAuth clients see it (an `https://`
    /// URL that reaches the ingress); nil: `http://gatehouse.<domain>:<ingress port>` (`issuerURL`).
    public var issuer: String?
    public var source: SourceLocation?

    /// The trust domain and its aliases: the SVIDs that are mesh identities.
    public var meshTrustDomains: Set<String> { Set([trustDomain] + trustDomainAliases) }

    public init(
        trustDomain: String = "cluster.local",
        rootNamespace: String = "istio-system",
        domain: String = "localhost",
        ingress: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8080),
        admin: ListenAddress = ListenAddress(host: "127.0.0.1", port: 15000),
        source: SourceLocation? = nil
    ) {
        self.trustDomain = trustDomain
        self.rootNamespace = rootNamespace
        self.domain = domain
        self.ingress = ingress
        self.admin = admin
        self.source = source
    }
}

/// A host and port to listen on; port 0 asks the system for a free one.
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (host defaults to 127.0.0.1).
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }  // [::1]:8080
        self.init(host: host.isEmpty ? "127.0.0.1" : String(host), port: port)
    }

    public var description: String { "\(host):\(port)" }
}

extension MeshSpec {
    /// Gatehouse's issuer URL (`iss` of `X-Gatehouse-Assertion`, the base of its metadata):
    /// `spec.issuer` when set, else `http://gatehouse.<domain>` with the ingress's port unless it is 80.
    public func issuerURL(ingressPort: Int) -> String {
        if let issuer { return issuer }
        return "http://gatehouse.\(domain)" + (ingressPort == 80 ? "" : ":\(ingressPort)")
    }
}
