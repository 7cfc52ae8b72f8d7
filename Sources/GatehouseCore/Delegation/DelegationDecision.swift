/// Whether an actor may obtain a token for an audience on a subject's behalf at the token
/// endpoint, and why: the policy that admitted it, or a stable code with a sentence naming the
/// policies that refused. Neither carries a token, so both may go to the decision and audit logs.
public enum DelegationDecision: Hashable, Sendable {
    /// `policy` is `NAMESPACE/NAME` of the DelegationPolicy that admitted the exchange.
    case allowed(policy: String)
    /// `reason` is one of the `DelegationDecision.*` codes below (safe to show the caller);
    /// `detail` says which policies were consulted and what they lacked (for logs and `explain`).
    case refused(reason: String, detail: String)

    /// No DelegationPolicy applies to the audience function: no exchange is allowed for it.
    public static let noPolicy = "delegation_no_policy"
    /// Policies apply to the audience, and none lists the actor.
    public static let actorNotAllowed = "delegation_actor_not_allowed"
    /// A policy lists the actor, but not for this subject.
    public static let subjectNotAllowed = "delegation_subject_not_allowed"
    /// A policy admits actor and subject, but the `act` chain would be longer than its `maxDepth`.
    public static let tooDeep = "delegation_too_deep"

    public var isAllowed: Bool {
        if case .allowed = self { return true }
        return false
    }
}
