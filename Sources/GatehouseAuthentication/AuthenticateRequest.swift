import GatehouseCore

/// ② The authentication stage: runs once routing has chosen the function (RequestAuthentication
/// applies per workload), before authorization, which sees the verified token's principal and
/// claims. A function no rule applies to costs one dictionary probe.
public struct AuthenticateRequest: RequestStage {
    public let authenticator: JWTAuthenticator

    public init(authenticator: JWTAuthenticator) {
        self.authenticator = authenticator
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        guard let function = record.destination?.key, authenticator.hasRules(for: function) else { return .proceed }
        record.upstreamHeaders.remove += authenticator.outputHeaders(for: function)
        let query = record.path.firstIndex(of: "?").map { record.path[record.path.index(after: $0)...] }
        if query != nil { record.redactedPath = authenticator.redactedPath(record.path, function: function) }
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
