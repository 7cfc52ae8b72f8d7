/// An Istio `DestinationRule` (`networking.istio.io` v1 / v1beta1 / v1alpha3): how the gateway
/// talks to a function once routing chose it. Gatehouse applies `trafficPolicy.tls` to remote
/// functions (process functions are reached over loopback); other traffic policy fields are
/// accepted and reported as not enforced yet.
public struct DestinationRuleSpec: Hashable, Sendable {
    public var namespace: String
    public var name: String
    /// Istio's host: a function's short name (in the rule's namespace), `NAME.NAMESPACE`,
    /// `NAME.NAMESPACE.svc.cluster.local`, or a remote function's URL host (as a ServiceEntry host).
    public var host: String
    public var tls: ClientTLSSettings?
    public var connectionPool: ConnectionPool?
    public var outlierDetection: OutlierDetection?
    /// Named groups of the function's revisions, selected by revision labels (VirtualService
    /// destinations name them in `subset`).
    public var subsets: [Subset] = []
    public var source: SourceLocation?

    /// Istio's `Subset`: `labels` select revisions (by `revisionLabels`); its `trafficPolicy`'s
    /// connection pool and outlier detection replace the rule's for the revision it selects.
    public struct Subset: Hashable, Sendable {
        public var name: String
        public var labels: [String: String]
        public var connectionPool: ConnectionPool?
        public var outlierDetection: OutlierDetection?
        public var source: SourceLocation?

        public init(name: String, labels: [String: String], source: SourceLocation? = nil) {
            self.name = name
            self.labels = labels
            self.source = source
        }

        public func selects(_ revision: FunctionSpec) -> Bool {
            let labels = revision.revisionLabels
            return self.labels.allSatisfy { labels[$0.key] == $0.value }
        }
    }

    /// `function` with this rule's connection pool limits and outlier detection applied (a
    /// subset's, when given, in place of the rule's own).
    public func apply(to function: FunctionSpec, subset: Subset? = nil) -> FunctionSpec {
        var function = function
        if let pool = subset?.connectionPool ?? connectionPool {
            function.scaling = pool.tighten(function.scaling)
            function.maxRequestsPerConnection = pool.maxRequestsPerConnection
        }
        function.outlierDetection = subset?.outlierDetection ?? outlierDetection
        return function
    }

    /// Istio's `ConnectionPoolSettings`, as limits on the function's instance pool: each one only
    /// ever tightens the Function's own `scaling` (the smaller wins).
    public struct ConnectionPool: Hashable, Sendable {
        /// `tcp.maxConnections`: connections, so requests, at once per instance (HTTP/1.1).
        public var maxConnections: Int?
        /// `http.http1MaxPendingRequests`: requests that may wait for an instance.
        public var maxPendingRequests: Int?
        /// `http.http2MaxRequests`: requests in flight to the function in all.
        public var maxRequests: Int?
        /// `http.maxRequestsPerConnection`: a kept-alive connection is closed after this many.
        public var maxRequestsPerConnection: Int?

        public init() {}

        /// `scaling` with these limits applied.
        public func tighten(_ scaling: FunctionSpec.Scaling) -> FunctionSpec.Scaling {
            var scaling = scaling
            if let maxConnections { scaling.concurrency = min(scaling.concurrency, maxConnections) }
            if let maxPendingRequests { scaling.maxQueue = min(scaling.maxQueue, maxPendingRequests) }
            if let maxRequests {
                if maxRequests < scaling.concurrency {
                    scaling.concurrency = maxRequests
                    scaling.maxInstances = 1
                } else {
                    scaling.maxInstances = max(1, min(scaling.maxInstances, maxRequests / scaling.concurrency))
                }
                scaling.minInstances = min(scaling.minInstances, scaling.maxInstances)
            }
            return scaling
        }
    }

    public init(namespace: String, name: String, host: String, tls: ClientTLSSettings? = nil, source: SourceLocation? = nil) {
        self.namespace = namespace
        self.name = name
        self.host = host
        self.tls = tls
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }

    /// Whether this rule's `host` names `function`, with Istio's short-name rule.
    public func names(_ function: FunctionSpec) -> Bool {
        if let remote = function.remote, host.lowercased() == remote.host.lowercased() { return true }
        return function.isNamed(by: host, in: namespace)
    }

    /// The rule for `function`: one in its namespace first, then one in the root namespace (as
    /// Istio looks up the service's namespace, then the mesh's); among several, the first by name.
    public static func rule(for function: FunctionSpec, in rules: [DestinationRuleSpec], rootNamespace: String) -> DestinationRuleSpec? {
        let matching = rules.filter { $0.names(function) }.sorted { $0.name < $1.name }
        return matching.first { $0.namespace == function.namespace } ?? matching.first { $0.namespace == rootNamespace }
    }

    /// Istio's `ClientTLSSettings`. Relative file paths are resolved against the YAML file's directory
    /// when decoded; `credentialName` names `STATE_DIR/credentials/NAME/` with `tls.crt`, `tls.key`
    /// and `ca.crt` (a Kubernetes TLS secret's keys).
    public struct ClientTLSSettings: Hashable, Sendable {
        public enum Mode: String, Hashable, Sendable, CaseIterable {
            case disable = "DISABLE"
            /// Server verification only.
            case simple = "SIMPLE"
            /// Client certificate from files (or `credentialName`), server verified.
            case mutual = "MUTUAL"
            /// The function's own SVID; the server verified against the mesh's trust bundle.
            case istioMutual = "ISTIO_MUTUAL"
        }

        public var mode: Mode
        public var clientCertificate: String?
        public var privateKey: String?
        public var caCertificates: String?
        public var credentialName: String?
        /// Server names the server's certificate must carry instead of the host (URI or DNS SANs).
        public var subjectAltNames: [String]
        public var sni: String?
        public var insecureSkipVerify: Bool

        public init(
            mode: Mode, clientCertificate: String? = nil, privateKey: String? = nil, caCertificates: String? = nil,
            credentialName: String? = nil, subjectAltNames: [String] = [], sni: String? = nil, insecureSkipVerify: Bool = false
        ) {
            self.mode = mode
            self.clientCertificate = clientCertificate
            self.privateKey = privateKey
            self.caCertificates = caCertificates
            self.credentialName = credentialName
            self.subjectAltNames = subjectAltNames
            self.sni = sni
            self.insecureSkipVerify = insecureSkipVerify
        }
    }
}
