import GatehouseCore

/// A request as `explain` and test cases describe it: today's test-file fields, plus `via`.
public struct ExplainRequest: Codable, Sendable {
    public var method: String
    public var host: String
    public var path: String
    /// The port it arrives on (which listener, and PeerAuthentication's `portLevelMtls`).
    public var port: Int?
    /// How it arrives: `ingress` (the plaintext listener), `mesh` (the mutual TLS listener) or
    /// `gateway NAME` (a Gateway's HTTPS server). Default: `mesh` when `port` is the mesh
    /// listener's, or when a `sourcePrincipal` is given without a port; else `ingress`.
    public var via: String?
    public var headers: [String: String]?
    public var sourceIP: String?
    /// The original client behind trusted proxies: sent as `X-Forwarded-For`, which the gateway
    /// reads only when the Mesh trusts proxies (`numTrustedProxies`).
    public var remoteIP: String?
    /// The caller's verified SPIFFE principal (mesh callers): `cluster.local/ns/NS/sa/SA`.
    public var sourcePrincipal: String?
    /// `iss/sub` alone, when neither `jwt` nor `claims` is given (taken as verified).
    public var requestPrincipal: String?
    /// A token, verified as the gateway would (sent as `Authorization: Bearer`).
    public var jwt: String?
    /// A token's claims, taken as verified.
    public var claims: [String: ClaimValue]?

    public init(
        method: String = "GET", host: String, path: String = "/", port: Int? = nil, via: String? = nil, headers: [String: String]? = nil,
        sourceIP: String? = nil, remoteIP: String? = nil, sourcePrincipal: String? = nil, requestPrincipal: String? = nil,
        jwt: String? = nil, claims: [String: ClaimValue]? = nil
    ) {
        self.method = method
        self.host = host
        self.path = path
        self.port = port
        self.via = via
        self.headers = headers
        self.sourceIP = sourceIP
        self.remoteIP = remoteIP
        self.sourcePrincipal = sourcePrincipal
        self.requestPrincipal = requestPrincipal
        self.jwt = jwt
        self.claims = claims
    }

    /// `method` defaults to GET and `path` to `/` in test files.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            method: try container.decodeIfPresent(String.self, forKey: .method) ?? "GET",
            host: try container.decode(String.self, forKey: .host),
            path: try container.decodeIfPresent(String.self, forKey: .path) ?? "/",
            port: try container.decodeIfPresent(Int.self, forKey: .port),
            via: try container.decodeIfPresent(String.self, forKey: .via),
            headers: try container.decodeIfPresent([String: String].self, forKey: .headers),
            sourceIP: try container.decodeIfPresent(String.self, forKey: .sourceIP),
            remoteIP: try container.decodeIfPresent(String.self, forKey: .remoteIP),
            sourcePrincipal: try container.decodeIfPresent(String.self, forKey: .sourcePrincipal),
            requestPrincipal: try container.decodeIfPresent(String.self, forKey: .requestPrincipal),
            jwt: try container.decodeIfPresent(String.self, forKey: .jwt),
            claims: try container.decodeIfPresent([String: ClaimValue].self, forKey: .claims))
    }

    enum CodingKeys: String, CodingKey {
        case method, host, path, port, via, headers, sourceIP, remoteIP, sourcePrincipal, requestPrincipal, jwt, claims
    }

    /// Tokens are never echoed back (`--output json` may end up in a CI log). The admin API's
    /// explain endpoint decodes what the CLI encodes, so the CLI sends `sending()`, not this.
    public func encode(to encoder: any Encoder) throws {
        try encode(to: encoder, secrets: false)
    }

    func encode(to encoder: any Encoder, secrets: Bool) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(method, forKey: .method)
        try container.encode(host, forKey: .host)
        try container.encode(path, forKey: .path)
        try container.encodeIfPresent(port, forKey: .port)
        try container.encodeIfPresent(via, forKey: .via)
        let secret: Set<String> = ["authorization", "cookie", "proxy-authorization"]
        let shown = secrets ? headers : headers.map {
            Dictionary(uniqueKeysWithValues: $0.map { ($0.key, secret.contains($0.key.lowercased()) ? "(given)" : $0.value) })
        }
        try container.encodeIfPresent(shown, forKey: .headers)
        try container.encodeIfPresent(sourceIP, forKey: .sourceIP)
        try container.encodeIfPresent(remoteIP, forKey: .remoteIP)
        try container.encodeIfPresent(sourcePrincipal, forKey: .sourcePrincipal)
        try container.encodeIfPresent(requestPrincipal, forKey: .requestPrincipal)
        try container.encodeIfPresent(secrets ? jwt : jwt.map { _ in "(given)" }, forKey: .jwt)
        try container.encodeIfPresent(claims, forKey: .claims)
    }

    /// The request with its secrets, for the admin API (over its authenticated connection).
    public struct Sending: Encodable {
        let request: ExplainRequest
        public func encode(to encoder: any Encoder) throws { try request.encode(to: encoder, secrets: true) }
    }

    public var sending: Sending { Sending(request: self) }
}
