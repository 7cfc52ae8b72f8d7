import GatehouseCore

/// ③ Authorization with Istio's semantics: DENY policies first (any match denies), then ALLOW
/// policies (none applying allows; otherwise one must match), AUDIT policies recorded, dry-run
/// policies evaluated and recorded but never enforced.
///
/// Built once per config snapshot with every function's applicable policies worked out in advance,
/// so a request is checked only against the policies that can apply to its function, and a function
/// no policy applies to costs one dictionary probe.
public struct AuthorizationEngine: Sendable {
    private let byFunction: [FunctionKey: Applicable]
    public let rootNamespace: String

    /// One function's policies, sorted into what each kind needs, with the sentences an allow needs
    /// written in advance so that allowing a request allocates nothing.
    struct Applicable: Sendable {
        var all: [AuthorizationPolicySpec]
        var deny: [AuthorizationPolicySpec] = []
        var allow: [(policy: AuthorizationPolicySpec, reasons: [String])] = []
        var audit: [AuthorizationPolicySpec] = []
        var custom: [AuthorizationPolicySpec] = []
        var dryRun: [AuthorizationPolicySpec] = []
        var noAllowReason: String

        init(_ policies: [AuthorizationPolicySpec], function: FunctionKey) {
            all = policies
            noAllowReason = "no ALLOW policy applies to \(function) and no DENY policy matched"
            for policy in policies {
                if policy.dryRun { dryRun.append(policy); continue }
                switch policy.action {
                case .deny: deny.append(policy)
                case .audit: audit.append(policy)
                case .custom: custom.append(policy)
                case .allow:
                    allow.append((policy, policy.rules.indices.map { index in
                        "ALLOW policy \(policy.reference) rule \(index) matched: \(PolicyDescription.rule(policy.rules[index]))"
                    }))
                }
            }
        }
    }

    public init(policies: [AuthorizationPolicySpec], functions: [FunctionSpec], rootNamespace: String) {
        self.rootNamespace = rootNamespace
        let ordered = policies.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        // Group once by namespace so each function only looks at its own and the root's.
        let byNamespace = Dictionary(grouping: ordered, by: \.namespace)
        let root = byNamespace[rootNamespace] ?? []
        var byFunction: [FunctionKey: Applicable] = [:]
        for function in functions {
            let candidates = function.namespace == rootNamespace ? root : root + (byNamespace[function.namespace] ?? [])
            let applying = candidates.filter { Self.applies($0, to: function, rootNamespace: rootNamespace) }
                .sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
            if !applying.isEmpty { byFunction[function.key] = Applicable(applying, function: function.key) }
        }
        self.byFunction = byFunction
    }

    /// The policies that apply to a function, by namespace, then name.
    public func policies(for function: FunctionKey) -> [AuthorizationPolicySpec] {
        byFunction[function]?.all ?? []
    }

    public func hasPolicies(for function: FunctionKey) -> Bool {
        byFunction[function] != nil
    }

    /// Istio's scoping: a root-namespace policy applies mesh-wide (to the functions its selector
    /// picks, if it has one); any other applies in its own namespace, to every function, to those
    /// whose labels include its selector's, or to those its `targetRefs` name.
    public static func applies(_ policy: AuthorizationPolicySpec, to function: FunctionSpec, rootNamespace: String) -> Bool {
        WorkloadScope.applies(
            namespace: policy.namespace, selector: policy.selector, targetNames: policy.targetNames, to: function,
            rootNamespace: rootNamespace)
    }

    /// The first CUSTOM policy (by namespace, then name) whose rules match: its provider decides
    /// before DENY and ALLOW policies are looked at (Istio's order CUSTOM → DENY → ALLOW).
    public func customPolicy(matching request: AuthorizationRequest, function: FunctionKey) -> (policy: AuthorizationPolicySpec, rule: Int)? {
        guard let custom = byFunction[function]?.custom, !custom.isEmpty else { return nil }
        for policy in custom {
            if let rule = PolicyMatcher.firstMatch(policy, request) { return (policy, rule) }
        }
        return nil
    }

    /// The DENY/ALLOW decision for a request to `function` (CUSTOM policies are asked first, by
    /// the caller, through `customPolicy`). Allowing allocates nothing; a denial writes its reason.
    public func decide(_ request: AuthorizationRequest, function: FunctionKey) -> AccessDecision {
        guard let applicable = byFunction[function] else {
            return AccessDecision(outcome: .allow, reason: "no authorization policy applies to \(function)")
        }
        let audited = applicable.audit.compactMap { PolicyMatcher.firstMatch($0, request) != nil ? $0.reference : nil }
        let dryRun = applicable.dryRun.map { policy in
            let verdict = switch policy.action {
            case .deny: "would deny"
            case .allow: "would allow"
            case .audit: "would audit"
            case .custom: "would ask provider \(policy.provider ?? "?")"
            }
            return PolicyMatcher.firstMatch(policy, request).map { "\(policy.reference): \(verdict) (rule \($0))" }
                ?? "\(policy.reference): \(policy.action.rawValue) would not match"
        }
        for policy in applicable.deny {
            guard let rule = PolicyMatcher.firstMatch(policy, request) else { continue }
            return AccessDecision(
                outcome: .deny, policy: policy.reference, action: .deny, rule: rule,
                reason: "DENY policy \(policy.reference) rule \(rule) matched: \(PolicyDescription.rule(policy.rules[rule]))",
                audited: audited, dryRun: dryRun)
        }
        guard !applicable.allow.isEmpty else {
            return AccessDecision(outcome: .allow, reason: applicable.noAllowReason, audited: audited, dryRun: dryRun)
        }
        for (policy, reasons) in applicable.allow {
            guard let rule = PolicyMatcher.firstMatch(policy, request) else { continue }
            return AccessDecision(
                outcome: .allow, policy: policy.reference, action: .allow, rule: rule, reason: reasons[rule],
                audited: audited, dryRun: dryRun)
        }
        // Say why for the first few; `gatehouse explain` shows them all.
        let shown = applicable.allow.prefix(3).map { policy, _ in
            "\(policy.reference): \(PolicyMatcher.evaluate(policy, request).misses.first ?? "no match")"
        }
        let more = applicable.allow.count > 3 ? "; and \(applicable.allow.count - 3) more" : ""
        return AccessDecision(
            outcome: .deny, reason: "no ALLOW policy matched (\(shown.joined(separator: "; "))\(more))", audited: audited, dryRun: dryRun)
    }

    /// The decision and every applicable policy's evaluation, rule by rule: for `gatehouse explain`.
    public func explain(_ request: AuthorizationRequest, function: FunctionKey) -> (decision: AccessDecision, evaluations: [PolicyEvaluation]) {
        (decide(request, function: function), policies(for: function).map { PolicyMatcher.evaluate($0, request) })
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
