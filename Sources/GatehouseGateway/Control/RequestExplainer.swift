import GatehouseAuthentication
import GatehouseAuthorization
import GatehouseConfig
import GatehouseCore
import GatehouseRouting

/// Runs a hypothetical request through the same routing, authentication and authorization the
/// request path uses, and says what each step found: for `gatehouse explain` and `gatehouse test`.
///
/// A token (`jwt`) is verified as the gateway would, fetching the issuer's keys if the rule names
/// them by URL; `claims` are taken as already verified. The external authorizer of a CUSTOM policy
/// is never called: the explanation says that it would decide.
public struct RequestExplainer: Sendable {
    public let snapshot: ConfigSnapshot
    private let router: HostRouter
    private let routes: RouteTable
    private let engine: AuthorizationEngine
    private let authenticator: JWTAuthenticator

    public init(snapshot: ConfigSnapshot, keys: KeyDirectory) {
        self.snapshot = snapshot
        let routing = RequestPipeline.hostRouting(for: snapshot)
        router = routing.router
        routes = routing.table
        engine = RequestPipeline.authorization(for: snapshot)
        authenticator = RequestPipeline.authentication(for: snapshot, keys: keys)
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
        /// `iss/sub` alone, when neither `jwt` nor `claims` is given.
        public var requestPrincipal: String?
        /// A token, verified as the gateway would (sent as `Authorization: Bearer`).
        public var jwt: String?
        /// A token's claims, taken as verified.
        public var claims: [String: ClaimValue]?

        public init(
            method: String = "GET", host: String, path: String = "/", port: Int? = nil, headers: [String: String]? = nil,
            sourceIP: String? = nil, remoteIP: String? = nil, sourcePrincipal: String? = nil, requestPrincipal: String? = nil,
            jwt: String? = nil, claims: [String: ClaimValue]? = nil
        ) {
            self.jwt = jwt
            self.claims = claims
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
                requestPrincipal: try container.decodeIfPresent(String.self, forKey: .requestPrincipal),
                jwt: try container.decodeIfPresent(String.self, forKey: .jwt),
                claims: try container.decodeIfPresent([String: ClaimValue].self, forKey: .claims))
        }

        enum CodingKeys: String, CodingKey {
            case method, host, path, port, headers, sourceIP, remoteIP, sourcePrincipal, requestPrincipal, jwt, claims
        }

        /// Tokens are never echoed back (`--output json` may end up in a CI log).
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(method, forKey: .method)
            try container.encode(host, forKey: .host)
            try container.encode(path, forKey: .path)
            try container.encodeIfPresent(port, forKey: .port)
            let secret: Set<String> = ["authorization", "cookie", "proxy-authorization"]
            let shown = headers.map { Dictionary(uniqueKeysWithValues: $0.map { ($0.key, secret.contains($0.key.lowercased()) ? "(given)" : $0.value) }) }
            try container.encodeIfPresent(shown, forKey: .headers)
            try container.encodeIfPresent(sourceIP, forKey: .sourceIP)
            try container.encodeIfPresent(remoteIP, forKey: .remoteIP)
            try container.encodeIfPresent(sourcePrincipal, forKey: .sourcePrincipal)
            try container.encodeIfPresent(requestPrincipal, forKey: .requestPrincipal)
            try container.encodeIfPresent(jwt.map { _ in "(given)" }, forKey: .jwt)
            try container.encodeIfPresent(claims, forKey: .claims)
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

        /// What RequestAuthentication made of the request's token.
        public struct Authentication: Codable, Sendable {
            /// `none` (no token, or no rule applies), `verified`, `assumed` (claims given) or `refused`.
            public var result: String
            public var principal: String?
            /// The RequestAuthentication whose rule verified the token.
            public var policy: String?
            /// Why a token was refused (the caller sees this code), or why none was checked.
            public var reason: String?
        }

        public var request: Request
        public var authentication: Authentication
        /// The CUSTOM policy whose provider would be asked first, and its rule.
        public var custom: String?
        /// The normalized path policies matched against.
        public var normalizedPath: String
        /// The VirtualService routes tried, when one covers the host.
        public var route: RouteTrace?
        /// `namespace/name`, or nil when no function serves the host.
        public var function: String?
        public var revision: String?
        /// 404 (no function), 401 (token refused), 403 (denied) or 200 (let through to the function).
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

    public func explain(_ request: Request) async -> Explanation {
        let (path, _) = PathNormalization.split(request.path)
        let normalized = PathNormalization.normalize(path)
        var explanation = Explanation(
            request: request, authentication: .init(result: "none"), normalizedPath: normalized, status: 404,
            reason: "no function serves host \"\(request.host)\" (functions are NAME.NAMESPACE.\(snapshot.mesh.domain))",
            policies: [], audited: [], dryRun: [])
        var headers = Dictionary((request.headers ?? [:]).map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, b in "\(a),\(b)" })
        if let jwt = request.jwt { headers["authorization"] = "Bearer " + jwt }
        let split: TrafficSplit
        if let (trace, routed) = routes.trace(
            host: request.host, mesh: request.port.map { $0 == snapshot.mesh.mesh.port } ?? (request.sourcePrincipal != nil),
            method: request.method, target: request.path, headers: headers,
            port: request.port ?? snapshot.mesh.ingress.port, sourcePrincipal: request.sourcePrincipal) {
            explanation.route = trace
            guard let routed else {
                explanation.status = trace.status ?? 404
                explanation.reason = trace.matched == nil
                    ? "no VirtualService route fits the request (\(trace.skipped.count) tried)"
                    : "route \(trace.matched ?? "") answers: \(trace.outcome ?? "")"
                return explanation
            }
            split = routed
            if let rewritten = trace.rewrittenPath {
                explanation.normalizedPath = PathNormalization.normalize(PathNormalization.split(rewritten).path)
            }
        } else {
            guard let byHost = router.split(forHost: request.host) else { return explanation }
            split = byHost
        }
        // Policies are the function's, whichever revision serves.
        guard let destination = split.destinations.first else { return explanation }
        explanation.function = destination.key.description
        explanation.revision = split.summary

        let identity: VerifiedJWT?
        (identity, explanation.authentication) = await authenticate(request, headers: headers, function: destination.key)
        if explanation.authentication.result == "refused" {
            explanation.status = 401
            explanation.reason = "RequestAuthentication refused the token: \(explanation.authentication.reason ?? "")"
            return explanation
        }
        let attributes = AuthorizationRequest(
            method: request.method, host: request.host, path: explanation.normalizedPath, destinationPort: request.port ?? snapshot.mesh.ingress.port,
            sourceIP: request.sourceIP, remoteIP: request.remoteIP, sourcePrincipal: request.sourcePrincipal,
            requestPrincipal: identity?.principal ?? request.requestPrincipal, audiences: identity?.audiences ?? [],
            presenter: identity?.presenter, claims: identity?.claims ?? [:], headers: headers)
        let (decision, evaluations) = engine.explain(attributes, function: destination.key)
        explanation.status = decision.outcome == .allow ? 200 : 403
        explanation.decision = decision.outcome.rawValue
        explanation.decidingPolicy = decision.policy
        explanation.rule = decision.rule
        explanation.reason = decision.reason
        if let (policy, rule) = engine.customPolicy(matching: attributes, function: destination.key) {
            explanation.custom = "\(policy.reference) rule \(rule)"
            explanation.reason = "CUSTOM policy \(policy.reference) rule \(rule) matched: provider \(policy.provider ?? "?") decides first "
                + "(explain does not call it); if it allows: " + decision.reason
        }
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

    private func authenticate(
        _ request: Request, headers: [String: String], function: FunctionKey
    ) async -> (VerifiedJWT?, Explanation.Authentication) {
        if let claims = request.claims {
            let jwt = VerifiedJWT(claims: claims)
            return (jwt, .init(result: "assumed", principal: jwt.principal, reason: "claims given, taken as verified"))
        }
        guard request.jwt != nil else {
            return (nil, .init(result: "none", principal: request.requestPrincipal, reason: request.requestPrincipal == nil ? "no token" : "principal given"))
        }
        let result: Result<JWTAuthenticator.Authenticated, AuthenticationFailure>
        switch authenticator.start(function: function, headers: ExplainedHeaders(values: headers), query: nil) {
        case .anonymous:
            return (nil, .init(result: "none", reason: "no RequestAuthentication applies to \(function): the token is not checked and names no one"))
        case .finished(let finished): result = finished
        case .verify(let pending): result = await authenticator.verify(pending)
        }
        switch result {
        case .success(let authenticated):
            return (authenticated.jwt, .init(result: "verified", principal: authenticated.jwt.principal, policy: authenticated.policy))
        case .failure(let failure):
            return (nil, .init(result: "refused", reason: "\(failure.code): \(failure.sentence)"))
        }
    }
}

private struct ExplainedHeaders: RequestHeaders {
    let values: [String: String]
    func first(_ name: String) -> String? { values[name.lowercased()] }
    func joined(_ name: String) -> String? { values[name.lowercased()] }
}
