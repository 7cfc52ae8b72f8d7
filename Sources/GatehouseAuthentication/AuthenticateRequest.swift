import GatehouseCore

/// ② The authentication stage: runs once routing has chosen the function (RequestAuthentication
/// applies per workload), before authorization, which sees the verified token's principal and
/// claims. A function no rule applies to costs one dictionary probe.
public struct AuthenticateRequest: RequestStage {
    public let authenticator: JWTAuthenticator
    /// Gatehouse as an implicit issuer: a token its token endpoint issued (`at+jwt`) is accepted by
    /// its audience, with no RequestAuthentication. nil while no DelegationPolicy is configured.
    public let issued: GatehouseIssuer?
    /// The functions a DelegationPolicy names: their protected resource metadata lists Gatehouse.
    public let delegatedAudiences: Set<FunctionKey>
    public var name: StageName { .jwt }

    public init(authenticator: JWTAuthenticator, issued: GatehouseIssuer? = nil, delegatedAudiences: Set<FunctionKey> = []) {
        self.authenticator = authenticator
        self.issued = issued
        self.delegatedAudiences = delegatedAudiences
    }

    /// Who issues tokens `function` accepts: its rules' issuers, then Gatehouse if it is an audience of delegation.
    func authorizationServers(for function: FunctionKey) -> [String] {
        var servers: [String] = []
        for (_, rule) in authenticator.rules(for: function) where !servers.contains(rule.issuer) { servers.append(rule.issuer) }
        if delegatedAudiences.contains(function), let issuer = issued?.issuer { servers.append(issuer) }
        return servers
    }

    /// The same verification (keys are fetched if the rule names them by URL). The note and
    /// details (`result`: none, verified, assumed or refused; `principal`) are written once the
    /// token is verified, which may be after a suspension.
    public func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation {
        let given = record.jwt
        let function = record.destination?.key
        let hasRules = function.map(authenticator.hasRules) ?? false
        let rules = function.map(authenticator.rules) ?? []
        let verdict = process(&record, headers: headers)
        guard case .suspend(let work) = verdict else {
            Self.describe(&record, verdict, given: given, function: function, hasRules: hasRules, rules: rules)
            return StageExplanation(verdict)
        }
        return StageExplanation(.suspend {
            let resume = await work()
            return { record in
                let verdict = resume(&record)
                Self.describe(&record, verdict, given: given, function: function, hasRules: hasRules, rules: rules)
                return verdict
            }
        })
    }

    private static func describe(_ record: inout RequestRecord, _ verdict: StageVerdict, given: VerifiedJWT?, function: FunctionKey?, hasRules: Bool,
        rules: [(policy: String, rule: RequestAuthenticationSpec.JWTRule)]
    ) {
        var details: [String: DetailValue] = [:]
        let note: String
        if case .reject = verdict {
            details["result"] = .string("refused")
            note = record.decision?.reason ?? "the token was refused"
        } else if let jwt = record.jwt, given == nil {
            details["result"] = .string("verified")
            details["principal"] = .string(jwt.principal)
            if let policy = rules.first(where: { $0.rule.issuer == jwt.issuer })?.policy { details["policy"] = .string(policy) }
            note = "token verified: \(jwt.principal)"
        } else if let jwt = given {
            details["result"] = .string("assumed")
            details["principal"] = .string(jwt.principal)
            note = "claims given, taken as verified: \(jwt.principal)"
        } else {
            details["result"] = .string("none")
            note = hasRules
                ? "no token (a RequestAuthentication alone requires none; an AuthorizationPolicy may)"
                : "no RequestAuthentication applies to \(function?.description ?? "the request"): a token is not checked and names no one"
        }
        record.extensions[StageNotes.self] = StageNotes(note: note, details: details)
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        guard let destination = record.destination else { return .proceed }
        let function = destination.key
        // RFC 9728 on the host of a function that takes tokens (any other's path is the function's own).
        if record.path.path.hasPrefix(IssuerPaths.protectedResource) {
            let servers = authorizationServers(for: function)
            if !servers.isEmpty, let reply = ProtectedResourceMetadata.document(for: record, servers: servers) { return .respond(reply) }
        }
        let bearer = issued != nil ? TokenLocations.bearer(in: headers) : nil
        guard authenticator.hasRules(for: function) else {
            // No rule reads tokens here: only Gatehouse's own are verified (while delegation is
            // configured), the rest ignored as before.
            return Self.ifIssued(bearer, by: issued, audience: destination.serviceHost, record: &record) ?? .proceed
        }
        // Whatever token the request carries: the rules' output headers are never the caller's.
        record.upstreamHeaders.remove += authenticator.outputHeaders(for: function)
        let query = record.path.query.isEmpty ? nil : record.path.query.dropFirst()
        // On top of the front's redaction (`QueryRedaction`): nil means this rule's names were absent.
        if query != nil, let redacted = authenticator.redactedPath(record.path.logged, function: function) { record.path.redacted = redacted }
        // The rules find the token (and refuse two different ones) before anything is trusted.
        switch authenticator.start(function: function, headers: headers, query: query) {
        case .anonymous:
            // The rules read no `Authorization` header here; a delegated token there still counts.
            return Self.ifIssued(bearer, by: issued, audience: destination.serviceHost, record: &record) ?? .proceed
        case .finished(let result):
            return Self.conclude(result, record: &record)
        case .verify(let pending):
            // Gatehouse's own token only when it is the very token the rules found.
            let ours = bearer != nil && pending.token == bearer
            if ours, let issued, let bearer, let jwt = issued.cachedIssued(bearer) {
                return Self.concludeIssued(.success(jwt), audience: destination.serviceHost, record: &record)
            }
            let authenticator = authenticator
            let issued = issued
            return .suspend {
                // Off the loop, where the token is parsed anyway: Gatehouse's own, or the rules'.
                if ours, let issued, let bearer, issued.claimsToHaveIssued(bearer) {
                    let result = await issued.verifyIssued(bearer, types: [IssuedTokenType.accessToken])
                    return { record in Self.concludeIssued(result, audience: destination.serviceHost, record: &record) }
                }
                let result = await authenticator.verify(pending)
                return { record in Self.conclude(result, record: &record) }
            }
        }
    }

    /// The verdict on `bearer` if it is a token `issued` issued: from the cache on the loop, or
    /// verified off it; nil when it is not one (or delegation is off).
    static func ifIssued(_ bearer: String?, by issued: GatehouseIssuer?, audience: String, record: inout RequestRecord) -> StageVerdict? {
        guard let issued, let bearer else { return nil }
        if let jwt = issued.cachedIssued(bearer) { return concludeIssued(.success(jwt), audience: audience, record: &record) }
        guard issued.claimsToHaveIssued(bearer) else { return nil }
        return .suspend {
            let result = await issued.verifyIssued(bearer, types: [IssuedTokenType.accessToken])
            return { record in concludeIssued(result, audience: audience, record: &record) }
        }
    }

    /// A delegated token: valid only for the function it was issued for. The function gets
    /// `X-Gatehouse-Assertion` (with the chain) instead of the token.
    static func concludeIssued(_ result: Result<VerifiedJWT, AuthenticationFailure>, audience: String, record: inout RequestRecord) -> StageVerdict {
        switch result {
        case .success(let jwt) where jwt.audiences.contains(audience):
            record.jwt = jwt
            if !record.upstreamHeaders.remove.contains("authorization") { record.upstreamHeaders.remove.append("authorization") }
            return .proceed
        case .success:
            return conclude(.failure(.audienceNotAllowed), record: &record)
        case .failure(let failure):
            return conclude(.failure(failure), record: &record)
        }
    }

    static func conclude(_ result: Result<JWTAuthenticator.Authenticated, AuthenticationFailure>, record: inout RequestRecord) -> StageVerdict {
        switch result {
        case .success(let authenticated):
            record.jwt = authenticated.jwt
            authenticated.apply(to: &record.upstreamHeaders)
            return .proceed
        case .failure(let failure):
            // A decision like authorization's, so the access log and `explain --request-id` say why.
            var decision = AccessDecision(outcome: .deny, reason: "RequestAuthentication refused the token (\(failure.code)): \(failure.sentence)")
            decision.refusedToken = failure.code
            record.decision = decision
            // RFC 6750 §3 with RFC 9728 §5.1: where to learn which issuers this function trusts.
            let challenge = ProtectedResourceMetadata.challenge(for: record, error: "invalid_token", description: failure.code)
            return .reject(GatehouseError(.invalidToken, detail: failure.sentence, reason: failure.code, headers: [("www-authenticate", challenge)]))
        }
    }
}
