import GatehouseCore
import NIOConcurrencyHelpers

/// Verifies tokens Gatehouse signed, against the keys its JWKS publishes (the current key and the
/// one it replaced), with the same machinery as any issuer's (`KeySet`, `VerifiedTokenCache`).
final class IssuedTokenVerifier: Sendable {
    private struct State {
        var ring: IssuerKeyRing?
        var generation = 0
        var keySet: KeySet?
    }

    private let state = NIOLockedValueBox(State())
    private let cache = VerifiedTokenCache(capacity: 10_000)

    func install(_ ring: IssuerKeyRing) {
        state.withLockedValue { state in
            state.ring = ring
            state.generation += 1
            state.keySet = nil
        }
        cache.removeAll(keys: 0)
    }

    /// A bearer token (`at+jwt`) verified before, still within its time.
    func cached(_ token: String, now: Int64) -> VerifiedJWT? {
        let generation = state.withLockedValue { $0.generation }
        guard let jwt = cache.lookup(keys: 0, generation: generation, token: token, now: now) else { return nil }
        return Self.withinTime(jwt, now: now) ? jwt : nil
    }

    func verify(_ token: String, types: Set<String>, now: Int64) async -> Result<VerifiedJWT, AuthenticationFailure> {
        let unverified: UnverifiedToken
        do { unverified = try UnverifiedToken(token) } catch { return .failure(error) }
        guard unverified.type.map(types.contains) == true else { return .failure(.wrongType) }
        guard let (ring, generation, keySet) = await keys() else { return .failure(.keysUnavailable) }
        guard unverified.issuer == ring.issuer, unverified.algorithm == "ES256" else { return .failure(.issuerNotTrusted) }
        let candidates = keySet.candidates(algorithm: "ES256", keyID: unverified.keyID)
        guard !candidates.isEmpty else { return .failure(.unknownKey) }
        var payload: ClaimsPayload?
        for key in candidates where payload == nil { payload = try? await key.signer.verify(token, as: ClaimsPayload.self) }
        guard let payload else { return .failure(.invalidSignature) }
        guard var jwt = payload.jwt, jwt.issuer == ring.issuer, jwt.expires != nil, !jwt.subject.isEmpty else { return .failure(.malformed) }
        jwt.delegatedPrincipal = jwt.subject
        guard Self.withinTime(jwt, now: now) else {
            return .failure(jwt.expires.map { now > $0 + Self.clockSkew } == true ? .expired : .notYetValid)
        }
        // Only bearer tokens are cached: `cached` answers for the jwt stage, which must never take an assertion.
        if unverified.type == IssuedTokenType.accessToken { cache.insert(jwt, keys: 0, generation: generation, token: token, now: now) }
        return .success(jwt)
    }

    private static let clockSkew: Int64 = 60

    private static func withinTime(_ jwt: VerifiedJWT, now: Int64) -> Bool {
        if let expires = jwt.expires, now > expires + clockSkew { return false }
        if let notBefore = jwt.notBefore, now + clockSkew < notBefore { return false }
        return true
    }

    /// The published keys as a `KeySet`, loaded once per installed ring.
    private func keys() async -> (IssuerKeyRing, Int, KeySet)? {
        let (ring, generation, keySet) = state.withLockedValue { ($0.ring, $0.generation, $0.keySet) }
        guard let ring else { return nil }
        if let keySet { return (ring, generation, keySet) }
        guard let loaded = try? await KeySet.load(jwksJSON: ring.jwksDocument) else { return nil }
        state.withLockedValue { if $0.generation == generation { $0.keySet = loaded } }
        return (ring, generation, loaded)
    }
}
