/// What the token endpoint did with one request, kept on its record for the audit log and the
/// access log: an exchange is a security event whether it was granted or refused.
public struct TokenExchangeNote: RecordExtensionKey, Sendable {
    public typealias Value = TokenExchangeNote

    public var granted: Bool
    /// The person the token is for (`ISSUER/SUBJECT`); nil when refused before it was verified.
    public var subject: String?
    /// `NAMESPACE/NAME` of the function asked for; nil when refused before it was known.
    public var audience: String?
    /// The agents, the one that asked first; empty when it did not authenticate.
    public var actors: [String]
    /// The DelegationPolicy that allowed it.
    public var policy: String?
    /// The fixed reason code of a refusal.
    public var reason: String?

    public init(granted: Bool, subject: String? = nil, audience: String? = nil, actors: [String] = [], policy: String? = nil, reason: String? = nil) {
        self.granted = granted
        self.subject = subject
        self.audience = audience
        self.actors = actors
        self.policy = policy
        self.reason = reason
    }
}
