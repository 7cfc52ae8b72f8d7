/// An Istio `Gateway` (`networking.istio.io` v1 / v1beta1 / v1alpha3): the ingress's servers.
///
/// In Gatehouse, plain `HTTP` servers are the ingress listener itself (`Mesh.spec.listeners.ingress`);
/// each `HTTPS` server port becomes one more listener on the ingress's address, terminating TLS
/// (`SIMPLE`) or mutual TLS (`MUTUAL`) with the server's credentials, and serving only its `hosts`.
public struct GatewaySpec: Hashable, Sendable {
    public var namespace: String
    public var name: String
    public var servers: [Server]
    public var source: SourceLocation?

    public init(namespace: String, name: String, servers: [Server] = [], source: SourceLocation? = nil) {
        self.namespace = namespace
        self.name = name
        self.servers = servers
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }

    public struct Server: Hashable, Sendable {
        public var port: Int
        /// `HTTP` or `HTTPS`.
        public var `protocol`: String
        /// Istio's hosts (`host`, `*.domain`, `*`, each optionally `namespace/`-prefixed).
        public var hosts: [String]
        public var tls: ServerTLS?

        public init(port: Int, protocol: String, hosts: [String], tls: ServerTLS? = nil) {
            self.port = port
            self.protocol = `protocol`
            self.hosts = hosts
            self.tls = tls
        }

        /// Whether `host` (without a port) is one of `hosts`: exact, `*.suffix`, or `*`.
        public func serves(_ host: String) -> Bool {
            let host = host.lowercased()
            return hosts.contains { pattern in
                let name = pattern.split(separator: "/", maxSplits: 1).last.map(String.init)?.lowercased() ?? ""
                if name == "*" { return true }
                if name.hasPrefix("*.") { return host.hasSuffix(name.dropFirst()) }
                return host == name
            }
        }
    }

    /// Istio's `ServerTLSSettings`, with files resolved against the YAML file's directory;
    /// `credentialName: NAME` is `STATE_DIR/credentials/NAME/{tls.crt,tls.key,ca.crt}`.
    public struct ServerTLS: Hashable, Sendable {
        public enum Mode: String, Hashable, Sendable, CaseIterable {
            case simple = "SIMPLE"
            case mutual = "MUTUAL"
        }

        public var mode: Mode
        public var credentialName: String?
        public var serverCertificate: String?
        public var privateKey: String?
        public var caCertificates: String?

        public init(mode: Mode, credentialName: String? = nil, serverCertificate: String? = nil, privateKey: String? = nil, caCertificates: String? = nil) {
            self.mode = mode
            self.credentialName = credentialName
            self.serverCertificate = serverCertificate
            self.privateKey = privateKey
            self.caCertificates = caCertificates
        }
    }
}
