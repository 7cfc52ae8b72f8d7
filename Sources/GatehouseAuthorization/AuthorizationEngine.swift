import GatehouseCore

/// ③ Authorization with Istio's semantics: DENY policies first (any match denies), then ALLOW
/// policies (none applying allows; otherwise one must match), AUDIT policies recorded, dry-run
/// policies evaluated and recorded but never enforced.
///
/// Built once per config snapshot with every function's applicable policies worked out in advance,
/// so a request is checked only against the policies that can apply to its function, and a function
/// no policy applies to costs one dictionary probe.
public struct AuthorizationEngine: Sendable {
    private let byFunction: [FunctionKey: [AuthorizationPolicySpec]]
    public let rootNamespace: String

    public init(policies: [AuthorizationPolicySpec], functions: [FunctionSpec], rootNamespace: String) {
        self.rootNamespace = rootNamespace
        let ordered = policies.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        var byFunction: [FunctionKey: [AuthorizationPolicySpec]] = [:]
        for function in functions {
            let applying = ordered.filter { Self.applies($0, to: function, rootNamespace: rootNamespace) }
            if !applying.isEmpty { byFunction[function.key] = applying }
        }
        self.byFunction = byFunction
    }

    /// The policies that apply to a function, in evaluation order (by namespace, then name).
    public func policies(for function: FunctionKey) -> [AuthorizationPolicySpec] {
        byFunction[function] ?? []
    }

    public func hasPolicies(for function: FunctionKey) -> Bool {
        byFunction[function] != nil
    }

    /// Istio's scoping: a root-namespace policy applies mesh-wide (to the functions its selector
    /// picks, if it has one); any other applies in its own namespace, to every function, to those
    /// whose labels include its selector's, or to those its `targetRefs` name.
    public static func applies(_ policy: AuthorizationPolicySpec, to function: FunctionSpec, rootNamespace: String) -> Bool {
        guard policy.namespace == rootNamespace || policy.namespace == function.namespace else { return false }
        if !policy.targetNames.isEmpty { return policy.namespace == function.namespace && policy.targetNames.contains(function.name) }
        guard let selector = policy.selector else { return true }
        return selector.allSatisfy { function.labels[$0.key] == $0.value }
    }

    /// The decision for a request to `function`, and every applicable policy's evaluation (for
    /// `gatehouse explain`).
    public func decide(_ request: AuthorizationRequest, function: FunctionKey) -> (decision: AccessDecision, evaluations: [PolicyEvaluation]) {
        let policies = policies(for: function)
        guard !policies.isEmpty else {
            return (AccessDecision(outcome: .allow, reason: "no authorization policy applies to \(function)"), [])
        }
        let evaluations = policies.map { PolicyMatcher.evaluate($0, request) }
        let enforced = evaluations.filter { !$0.policy.dryRun }
        let audited = enforced.filter { $0.policy.action == .audit && $0.matched }.map(\.policy.reference)
        let dryRun = evaluations.filter(\.policy.dryRun).map { evaluation in
            let verdict = evaluation.policy.action == .deny ? "would deny" : evaluation.policy.action == .allow ? "would allow" : "would audit"
            return evaluation.matched
                ? "\(evaluation.policy.reference): \(verdict) (rule \(evaluation.matchedRule!))"
                : "\(evaluation.policy.reference): \(evaluation.policy.action.rawValue) would not match"
        }
        func decision(_ outcome: AccessDecision.Outcome, _ evaluation: PolicyEvaluation?, _ reason: String) -> AccessDecision {
            AccessDecision(
                outcome: outcome, policy: evaluation?.policy.reference, action: evaluation?.policy.action,
                rule: evaluation?.matchedRule, reason: reason, audited: audited, dryRun: dryRun)
        }

        if let deny = enforced.first(where: { $0.policy.action == .deny && $0.matched }) {
            let rule = deny.policy.rules[deny.matchedRule!]
            return (decision(.deny, deny, "DENY policy \(deny.policy.reference) rule \(deny.matchedRule!) matched: \(PolicyDescription.rule(rule))"), evaluations)
        }
        let allows = enforced.filter { $0.policy.action == .allow }
        guard !allows.isEmpty else {
            return (decision(.allow, nil, "no ALLOW policy applies to \(function) and no DENY policy matched"), evaluations)
        }
        if let allow = allows.first(where: \.matched) {
            let rule = allow.policy.rules[allow.matchedRule!]
            return (decision(.allow, allow, "ALLOW policy \(allow.policy.reference) rule \(allow.matchedRule!) matched: \(PolicyDescription.rule(rule))"), evaluations)
        }
        let why = allows.map { "\($0.policy.reference): \($0.misses.first ?? "no match")" }.joined(separator: "; ")
        return (decision(.deny, nil, "no ALLOW policy matched (\(why))"), evaluations)
    }
}

/// Short descriptions of rules, for reasons and explanations.
enum PolicyDescription {
    static func rule(_ rule: AuthorizationPolicySpec.Rule) -> String {
        var parts: [String] = []
        for (index, source) in rule.from.enumerated() {
            let fields = [
                ("principals", source.principals), ("requestPrincipals", source.requestPrincipals),
                ("namespaces", source.namespaces), ("serviceAccounts", source.serviceAccounts),
                ("ipBlocks", source.ipBlocks), ("remoteIpBlocks", source.remoteIpBlocks),
            ]
            parts += describe(fields, prefix: "from[\(index)].source.")
        }
        for (index, operation) in rule.to.enumerated() {
            let fields = [("hosts", operation.hosts), ("ports", operation.ports), ("methods", operation.methods), ("paths", operation.paths)]
            parts += describe(fields, prefix: "to[\(index)].operation.")
        }
        for condition in rule.when {
            parts += describe([(condition.key, condition.match)], prefix: "when ")
        }
        return parts.isEmpty ? "an empty rule, which matches every request" : parts.joined(separator: ", ")
    }

    private static func describe(_ fields: [(String, AuthorizationPolicySpec.Match)], prefix: String) -> [String] {
        fields.flatMap { name, match -> [String] in
            var parts: [String] = []
            if !match.values.isEmpty { parts.append("\(prefix)\(name) \(match.values)") }
            if !match.notValues.isEmpty { parts.append("\(prefix)not \(name) \(match.notValues)") }
            return parts
        }
    }
}
