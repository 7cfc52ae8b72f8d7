import GatehouseCore

/// What the token endpoint asks of the JWT machinery: a token handed over in a form field rather
/// than found in a request's header, verified by the same rules, keys and cache.
extension JWTAuthenticator {
    /// Verifies `token` as `function` would if it arrived in a request to it: a person's token is
    /// exchanged only for a function that accepts that person's token itself.
    public func verify(_ token: String, asCallerOf function: FunctionKey, now: Int64 = Self.now()) async -> Result<Authenticated, AuthenticationFailure> {
        guard let rules = byFunction[function], !rules.isEmpty else { return .failure(.issuerNotTrusted) }
        return await verify(Pending(token: token, rules: rules.map { ($0, []) }), now: now)
    }

    /// Where `function`'s rules for `issuer` get their keys: two functions trust a person the same
    /// way only if they trust the issuer through the same keys.
    func keySources(for function: FunctionKey, issuer: String) -> Set<IssuerKeys.Source> {
        Set((byFunction[function] ?? []).filter { $0.rule.issuer == issuer }.map(\.keys.source))
    }

    /// Verifies a client's own JWT (RFC 7523 `client_assertion`, or an `actor_token`): signed by an
    /// issuer some RequestAuthentication trusts, and addressed to Gatehouse — `aud` one of
    /// `audiences` (its issuer URL or token endpoint), whatever the rules' audiences say. When
    /// several rules (in several namespaces) name the issuer, every one must verify it: a test key
    /// in one namespace cannot stand in for the real one in another.
    public func verifyClient(_ token: String, audiences: [String], now: Int64 = Self.now()) async -> Result<VerifiedJWT, AuthenticationFailure> {
        let unverified: UnverifiedToken
        do { unverified = try UnverifiedToken(token) } catch { return .failure(error) }
        guard let issuer = unverified.issuer, let rules = clientRules[issuer], !rules.isEmpty else { return .failure(.issuerNotTrusted) }
        var verified: VerifiedJWT?
        for rule in rules {
            var addressed = rule.rule
            addressed.audiences = audiences
            let bound = BoundRule(policy: rule.policy, rule: addressed, locations: rule.locations, keys: rule.keys)
            switch await verify(Pending(token: token, rules: [(bound, [])]), now: now) {
            case .success(let authenticated): verified = authenticated.jwt
            case .failure(let failure): return .failure(failure)
            }
        }
        // A client's credential must expire (one without `exp` would be a password) and name the client.
        guard let verified, verified.expires != nil, !verified.subject.isEmpty else { return .failure(.malformed) }
        return .success(verified)
    }
}
