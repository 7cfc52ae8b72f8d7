import GatehouseCore
import JWTKit

/// The claims of `X-Gatehouse-Assertion` (a delegated token's are `DelegatedTokenClaims`).
/// Optional claims are left out when unknown, never sent empty.
struct AssertionClaims: JWTPayload {
    var iss: String
    var sub: String
    var aud: String
    var iat: Int64
    var nbf: Int64
    var exp: Int64
    var email: String?
    var groups: [String]?
    var act: ClaimValue?
    var subject_issuer: String?
    var scope: String?

    init(issuer: String, subject: AssertionSubject, issuedAt: Int64, lifetime: Int64) {
        iss = issuer
        sub = subject.subject
        aud = subject.audience
        iat = issuedAt
        nbf = issuedAt
        exp = issuedAt + lifetime
        email = subject.email
        groups = subject.groups
        act = subject.actor
        subject_issuer = subject.subjectIssuer
        scope = subject.scope
    }

    /// Gatehouse only signs these; verifying them is the function's business.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
