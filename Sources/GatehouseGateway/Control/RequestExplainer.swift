import GatehouseAuthorization
import GatehouseConfig
import GatehouseCore
import GatehouseRouting

/// Runs a hypothetical request through the same routing and authorization the request path uses,
/// and says what each step found: for `gatehouse explain` and `gatehouse test`.
public struct RequestExplainer: Sendable {
    public let snapshot: ConfigSnapshot
    private let router: HostRouter
    private let engine: AuthorizationEngine

    public init(snapshot: ConfigSnapshot) {
        self.snapshot = snapshot
        router = HostRouter(functions: snapshot.functions, domain: snapshot.mesh.domain)
        engine = RequestPipeline.authorization(for: snapshot)
    }

    /// A request as `explain` and test cases describe it.
    public struct Request: Codable, Sendable {
        public var method: String
        public var host: String
        public var path: String
        public var port: Int?
        public var headers: [String: String]?
        public var sourceIP: String?
        /// The original client when proxies are in front (`remote.ip`, `remoteIpBlocks`); `sourceIP` when nil.
        public var remoteIP: String?
        public var sourcePrincipal: String?
        public var requestPrincipal: String?

        public init(
            method: String = "GET", host: String, path: String = "/", port: Int? = nil, headers: [String: String]? = nil,
            sourceIP: String? = nil, remoteIP: String? = nil, sourcePrincipal: String? = nil, requestPrincipal: String? = nil
        ) {
            self.remoteIP = remoteIP
            self.method = method
            self.host = host
            self.path = path
            self.port = port
            self.headers = headers
            self.sourceIP = sourceIP
            self.sourcePrincipal = sourcePrincipal
            self.requestPrincipal = requestPrincipal
        }

        /// `method` defaults to GET and `path` to `/` in test files.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                method: try container.decodeIfPresent(String.self, forKey: .method) ?? "GET",
                host: try container.decode(String.self, forKey: .host),
                path: try container.decodeIfPresent(String.self, forKey: .path) ?? "/",
                port: try container.decodeIfPresent(Int.self, forKey: .port),
                headers: try container.decodeIfPresent([String: String].self, forKey: .headers),
                sourceIP: try container.decodeIfPresent(String.self, forKey: .sourceIP),
                remoteIP: try container.decodeIfPresent(String.self, forKey: .remoteIP),
                sourcePrincipal: try container.decodeIfPresent(String.self, forKey: .sourcePrincipal),
                requestPrincipal: try container.decodeIfPresent(String.self, forKey: .requestPrincipal))
        }
    }

    public struct Explanation: Codable, Sendable {
        public struct Policy: Codable, Sendable {
            public var policy: String
            public var action: String
            public var dryRun: Bool
            public var matchedRule: Int?
            /// Why each rule before the matching one (or every rule) did not match.
            public var misses: [String]
            public var source: String?
        }

        public var request: Request
        /// The normalized path policies matched against.
        public var normalizedPath: String
        /// `namespace/name`, or nil when no function serves the host.
        public var function: String?
        public var revision: String?
        /// 404 (no function), 403 (denied) or 200 (let through to the function).
        public var status: Int
        /// `allow` or `deny`; nil when no function serves the host.
        public var decision: String?
        public var decidingPolicy: String?
        public var rule: Int?
        public var reason: String
        public var policies: [Policy]
        public var audited: [String]
        public var dryRun: [String]
    }

    public func explain(_ request: Request) -> Explanation {
        let (path, _) = PathNormalization.split(request.path)
        let normalized = PathNormalization.normalize(path)
        var explanation = Explanation(
            request: request, normalizedPath: normalized, status: 404,
            reason: "no function serves host \"\(request.host)\" (functions are NAME.NAMESPACE.\(snapshot.mesh.domain))",
            policies: [], audited: [], dryRun: [])
        guard let destination = router.destination(forHost: request.host) else { return explanation }
        explanation.function = destination.key.description
        explanation.revision = snapshot.function(destination.key)?.revision
        let attributes = AuthorizationRequest(
            method: request.method, host: request.host, path: normalized, destinationPort: request.port ?? snapshot.mesh.ingress.port,
            sourceIP: request.sourceIP, remoteIP: request.remoteIP, sourcePrincipal: request.sourcePrincipal,
            requestPrincipal: request.requestPrincipal,
            headers: Dictionary((request.headers ?? [:]).map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, b in "\(a),\(b)" }))
        let (decision, evaluations) = engine.explain(attributes, function: destination.key)
        explanation.status = decision.outcome == .allow ? 200 : 403
        explanation.decision = decision.outcome.rawValue
        explanation.decidingPolicy = decision.policy
        explanation.rule = decision.rule
        explanation.reason = decision.reason
        explanation.audited = decision.audited
        explanation.dryRun = decision.dryRun
        explanation.policies = evaluations.map { evaluation in
            Explanation.Policy(
                policy: evaluation.policy.reference, action: evaluation.policy.action.rawValue, dryRun: evaluation.policy.dryRun,
                matchedRule: evaluation.matchedRule, misses: evaluation.misses,
                source: evaluation.policy.source.map { "\($0.file):\($0.line)" })
        }
        return explanation
    }
}
