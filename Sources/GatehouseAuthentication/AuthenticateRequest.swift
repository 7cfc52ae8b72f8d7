import GatehouseCore

/// ② The authentication stage: runs once routing has chosen the function (RequestAuthentication
/// applies per workload), before authorization, which sees the verified token's principal and
/// claims. A function no rule applies to costs one dictionary probe.
public struct AuthenticateRequest: RequestStage {
    public let authenticator: JWTAuthenticator
    public var name: StageName { .jwt }

    public init(authenticator: JWTAuthenticator) {
        self.authenticator = authenticator
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
        guard let function = record.destination?.key, authenticator.hasRules(for: function) else { return .proceed }
        record.upstreamHeaders.remove += authenticator.outputHeaders(for: function)
        let query = record.path.query.isEmpty ? nil : record.path.query.dropFirst()
        // On top of the front's redaction (`QueryRedaction`): nil means this rule's names were absent.
        if query != nil, let redacted = authenticator.redactedPath(record.path.logged, function: function) { record.path.redacted = redacted }
        switch authenticator.start(function: function, headers: headers, query: query) {
        case .anonymous:
            return .proceed
        case .finished(let result):
            return Self.conclude(result, record: &record)
        case .verify(let pending):
            let authenticator = authenticator
            return .suspend {
                let result = await authenticator.verify(pending)
                return { record in Self.conclude(result, record: &record) }
            }
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
            return .reject(GatehouseError(.invalidToken, detail: failure.sentence, reason: failure.code))
        }
    }
}
