import Crypto
import Foundation
import GatehouseCore

extension GatehouseIssuer {
    /// Signs a delegated token for `grant` (`typ: at+jwt`, ES256, `delegatedLifetime`); nil when
    /// no key is installed or signing failed. Each one is new (its own `jti`): nothing is cached.
    public func issueDelegatedToken(_ grant: DelegationGrant) async -> (token: String, expiresIn: Int64)? {
        guard let ring = keyRing else { return nil }
        let now = Int64(clock().timeIntervalSince1970)
        let lifetime = delegatedLifetime.components.seconds
        let id = Base64URL.encode((0..<16).map { _ in UInt8.random(in: .min ... .max) })
        let claims = DelegatedTokenClaims(issuer: ring.issuer, grant: grant, issuedAt: now, lifetime: lifetime, id: id)
        guard let token = try? await Self.sign(claims, with: ring.signing, type: IssuedTokenType.accessToken) else { return nil }
        return (token, lifetime)
    }

    /// A token this Gatehouse signed, verified: signature by a published key, `typ` one of `types`,
    /// issuer, time (60 s of skew, as for any JWT). The audience is the caller's to check. Its
    /// `sub` becomes the request principal as it is (`delegatedPrincipal`).
    public func verifyIssued(_ token: String, types: Set<String>) async -> Result<VerifiedJWT, AuthenticationFailure> {
        await verifier.verify(token, types: types, now: Int64(clock().timeIntervalSince1970))
    }

    /// The same, from the cache only (on the event loop): nil when it must be verified first.
    public func cachedIssued(_ token: String) -> VerifiedJWT? {
        verifier.cached(token, now: Int64(clock().timeIntervalSince1970))
    }

    /// Whether `token` claims to be one this Gatehouse issued (read, not verified: to choose how
    /// to verify it). Parses the token; call it only once the caches missed.
    public func claimsToHaveIssued(_ token: String) -> Bool {
        guard let issuer, let unverified = try? UnverifiedToken(token) else { return false }
        return unverified.issuer == issuer
    }
}
