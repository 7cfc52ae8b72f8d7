import GatehouseCore
import JWTKit

/// The claims of a token Gatehouse issues at its token endpoint (RFC 8693, in RFC 9068's
/// access-token profile): the person as `sub` (their own `ISSUER/SUBJECT`, so policies match it as
/// they match the person's own token), the function as `aud`, and the agents as `act`.
struct DelegatedTokenClaims: JWTPayload {
    var iss: String
    var sub: String
    var aud: String
    var iat: Int64
    var nbf: Int64
    var exp: Int64
    var jti: String
    /// RFC 9068 §2.2: the client the token was issued to — the current actor.
    var clientID: String
    var grant: DelegationGrant

    /// Claims Gatehouse sets itself; a person's claim of the same name is never copied over them.
    static let reserved: Set<String> = [
        "iss", "sub", "aud", "iat", "nbf", "exp", "jti", "client_id", "act", "cnf", "scope", "scp", "subject_issuer", "email", "groups",
    ]

    init(issuer: String, grant: DelegationGrant, issuedAt: Int64, lifetime: Int64, id: String) {
        iss = issuer
        sub = grant.subject
        aud = grant.audience
        iat = issuedAt
        nbf = issuedAt
        exp = issuedAt + lifetime
        jti = id
        clientID = grant.chain.actors.first ?? ""
        self.grant = grant
    }

    /// Only ever encoded (signed); `GatehouseIssuer.verifyIssued` reads tokens back as claims.
    init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "delegated tokens are read as ClaimsPayload"))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ClaimName.self)
        // The person's other claims first, so that nothing below can be overwritten by them.
        for (name, value) in grant.claims where !Self.reserved.contains(name) { try container.encode(value, forKey: ClaimName(name)) }
        try container.encode(iss, forKey: ClaimName("iss"))
        try container.encode(sub, forKey: ClaimName("sub"))
        try container.encode(aud, forKey: ClaimName("aud"))
        try container.encode(iat, forKey: ClaimName("iat"))
        try container.encode(nbf, forKey: ClaimName("nbf"))
        try container.encode(exp, forKey: ClaimName("exp"))
        try container.encode(jti, forKey: ClaimName("jti"))
        try container.encode(clientID, forKey: ClaimName("client_id"))
        try container.encode(grant.subjectIssuer, forKey: ClaimName("subject_issuer"))
        if let act = grant.chain.claim { try container.encode(act, forKey: ClaimName("act")) }
        try container.encodeIfPresent(grant.scope, forKey: ClaimName("scope"))
        try container.encodeIfPresent(grant.email, forKey: ClaimName("email"))
        try container.encodeIfPresent(grant.groups, forKey: ClaimName("groups"))
    }

    /// Gatehouse only signs these here; `GatehouseIssuer.verifyIssued` checks them when they come back.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// A claim's name as a coding key: the person's claims are not known in advance.
struct ClaimName: CodingKey {
    let stringValue: String
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// What an exchange grants: who for, to reach which function, through which agents.
public struct DelegationGrant: Sendable, Hashable {
    /// `aud`: the function's service host, `NAME.NAMESPACE.svc.cluster.local`.
    public var audience: String
    /// `sub`: the person's request principal (`ISSUER/SUBJECT`).
    public var subject: String
    /// The issuer that vouched for the person (`subject_issuer`): an audience accepts the token
    /// only if its own rules trust that issuer.
    public var subjectIssuer: String
    /// The agents, the one the token is issued to first.
    public var chain: ActorChain
    /// Space-separated (RFC 6749 §3.3); nil when the person's token had none and none was asked.
    public var scope: String?
    public var email: String?
    public var groups: [String]?
    /// The person's other claims, copied so that policies decide as they would on the person's
    /// own token (a DENY on a claim still applies). Reserved names are Gatehouse's.
    public var claims: [String: ClaimValue]

    public init(
        audience: String, subject: String, subjectIssuer: String, chain: ActorChain, scope: String? = nil, email: String? = nil,
        groups: [String]? = nil, claims: [String: ClaimValue] = [:]
    ) {
        self.audience = audience
        self.subject = subject
        self.subjectIssuer = subjectIssuer
        self.claims = claims
        self.chain = chain
        self.scope = scope
        self.email = email
        self.groups = groups
    }
}

/// The JOSE `typ` values of what Gatehouse signs: a delegated token is a bearer credential
/// (`at+jwt`, RFC 9068 §2.1); an assertion (`JWT`) is only ever read by the function it names,
/// and is never accepted in its place.
public enum IssuedTokenType {
    public static let accessToken = "at+jwt"
    public static let assertion = "JWT"
}
