/// What authorization decided for one request, and why: the policy (`namespace/name`), the rule and
/// the condition that decided. Never a bare `Bool`, so that logs and `gatehouse explain` can say why.
public struct AccessDecision: Hashable, Sendable {
    public enum Outcome: String, Hashable, Sendable {
        case allow, deny
    }

    public var outcome: Outcome
    /// The policy that decided; nil when none did (no policy applies, or no ALLOW policy matched).
    public var policy: String?
    public var action: AuthorizationPolicySpec.Action?
    public var rule: Int?
    /// A sentence for operators: which condition decided, or why nothing matched.
    public var reason: String
    /// AUDIT policies that matched.
    public var audited: [String]
    /// What each dry-run policy would have done (`ns/name: would deny (rule 0)`).
    public var dryRun: [String]
    /// Set when RequestAuthentication refused the request's token (before any policy ran): the
    /// caller-safe reason code, e.g. `jwt_expired`.
    public var refusedToken: String?

    public init(
        outcome: Outcome, policy: String? = nil, action: AuthorizationPolicySpec.Action? = nil, rule: Int? = nil,
        reason: String, audited: [String] = [], dryRun: [String] = []
    ) {
        self.outcome = outcome
        self.policy = policy
        self.action = action
        self.rule = rule
        self.reason = reason
        self.audited = audited
        self.dryRun = dryRun
    }

    /// Envoy's `response_code_details` for a denial, naming the policy as Istio does.
    public var responseCodeDetails: String {
        guard outcome == .deny else { return "-" }
        if let refusedToken { return "jwt_authn_access_denied{\(refusedToken)}" }
        if action == .custom { return "ext_authz_denied" }
        guard let policy, let rule else { return "rbac_access_denied_matched_policy[none]" }
        let parts = policy.split(separator: "/", maxSplits: 1)
        return "rbac_access_denied_matched_policy[ns[\(parts.first ?? "")]-policy[\(parts.last ?? "")]-rule[\(rule)]]"
    }
}
