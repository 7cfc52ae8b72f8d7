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
    var client_id: String
    var scope: String?
    var email: String?
    var groups: [String]?
    var act: ClaimValue

    init(issuer: String, grant: DelegationGrant, issuedAt: Int64, lifetime: Int64, id: String) {
        iss = issuer
        sub = grant.subject
        aud = grant.audience
        iat = issuedAt
        nbf = issuedAt
        exp = issuedAt + lifetime
        jti = id
        client_id = grant.chain.actors.first ?? ""
        scope = grant.scope
        email = grant.email
        groups = grant.groups
        act = grant.chain.claim ?? .object([:])
    }

    /// Gatehouse only signs these here; `GatehouseIssuer.verifyIssued` checks them when they come back.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// What an exchange grants: who for, to reach which function, through which agents.
public struct DelegationGrant: Sendable, Hashable {
    /// `aud`: the function's service host, `NAME.NAMESPACE.svc.cluster.local`.
    public var audience: String
    /// `sub`: the person's request principal (`ISSUER/SUBJECT`).
    public var subject: String
    /// The agents, the one the token is issued to first.
    public var chain: ActorChain
    /// Space-separated (RFC 6749 §3.3); nil when the person's token had none and none was asked.
    public var scope: String?
    public var email: String?
    public var groups: [String]?

    public init(audience: String, subject: String, chain: ActorChain, scope: String? = nil, email: String? = nil, groups: [String]? = nil) {
        self.audience = audience
        self.subject = subject
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
