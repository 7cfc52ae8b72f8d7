import GatehouseCore

/// The last stage before the function: a request whose caller was verified — an end user (a JWT
/// RequestAuthentication verified, or a login session) or a mesh peer — carries
/// `X-Gatehouse-Assertion`, a JWT Gatehouse signed for that function (`aud` its service host).
/// Last, so a request refused by authorization or a rate limit costs no signature.
///
/// The hot path signs nothing: a token is reused for the same caller and function until half its
/// lifetime has passed (`GatehouseIssuer`); only then does one request suspend to sign a new one.
/// A client's own header was removed on arrival, so an anonymous request reaches the function without one.
public struct IssueAssertion: RequestStage {
    public let issuer: GatehouseIssuer
    public var name: StageName { .assertion }

    public init(issuer: GatehouseIssuer) {
        self.issuer = issuer
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        // Most requests have no verified caller: seen before the subject is built, which copies the record.
        guard record.jwt != nil || record.peer?.principal != nil, let subject = AssertionSubject(record: record) else { return .proceed }
        switch issuer.cachedAssertion(for: subject) {
        case .cached(let token):
            record.upstreamHeaders.setHeader(IdentityHeaders.assertion, token)
            return .proceed
        case .unavailable:
            return .proceed
        case .needsSigning:
            let issuer = issuer
            return .suspend {
                let token = await issuer.assertion(for: subject)
                return { record in
                    // Unsigned (no key, a failure): the function gets no assertion, never a stale or forged one.
                    if let token { record.upstreamHeaders.setHeader(IdentityHeaders.assertion, token) }
                    return .proceed
                }
            }
        }
    }

    /// Says what the assertion would claim; signs nothing.
    public func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation {
        guard let subject = AssertionSubject(record: record) else {
            return StageExplanation(.proceed, note: "no verified caller: the function gets no X-Gatehouse-Assertion")
        }
        var details: [String: DetailValue] = ["sub": .string(subject.subject), "aud": .string(subject.audience), "kind": .string(subject.kind.rawValue)]
        if let issuer = issuer.issuer { details["iss"] = .string(issuer) }
        if let email = subject.email { details["email"] = .string(email) }
        if let groups = subject.groups { details["groups"] = .list(groups.map { .string($0) }) }
        return StageExplanation(
            .proceed, note: "X-Gatehouse-Assertion for \(subject.subject) (aud \(subject.audience))", details: details)
    }
}
