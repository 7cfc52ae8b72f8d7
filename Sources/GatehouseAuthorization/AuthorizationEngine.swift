import GatehouseCore

/// ③ Authorization with Istio's semantics: DENY policies first (any match denies), then ALLOW
/// policies (none applying allows; otherwise one must match), AUDIT policies recorded, dry-run
/// policies evaluated and recorded but never enforced.
///
/// Built once per config snapshot with every function's applicable policies worked out in advance,
/// so a request is checked only against the policies that can apply to its function, and a function
/// no policy applies to costs one dictionary probe. Within a function, `RuleIndex` picks the rules
/// a request's method, host and path leave in play, so a decision checks those, not every rule.
public struct AuthorizationEngine: Sendable {
    private let byFunction: [FunctionKey: Protected]
    public let rootNamespace: String

    /// A function's policies — shared by every function the same policies apply to, so a
    /// mesh-wide policy is indexed once, not once per function — and what its decisions say when no
    /// ALLOW policy applies, which names the function.
    struct Protected: Sendable {
        let policies: Applicable
        let noAllowReason: String
    }

    public init(policies: [AuthorizationPolicySpec], functions: [FunctionSpec], rootNamespace: String, indexedRuleBudget: Int = AuthorizationEngine.indexedRuleBudget) {
        self.rootNamespace = rootNamespace
        let ordered = policies.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        // Group once by namespace so each function only looks at its own and the root's; positions
        // in `ordered`, which sorted are namespace-then-name order.
        let byNamespace = Dictionary(grouping: ordered.indices, by: { ordered[$0].namespace })
        let root = byNamespace[rootNamespace] ?? []
        var byFunction: [FunctionKey: Protected] = [:]
        var shared: [[Int]: Applicable] = [:]
        // A policy's sentences are written once, whatever number of sets it is in (their storage is shared).
        var reasons: [Int: [String]] = [:]
        // Each distinct set of policies gets its own index, so a large mesh-wide policy is indexed
        // again for every namespace with policies of its own: past this many indexed rules in all,
        // further sets are scanned (the same answers, slower) rather than memory growing with it.
        var indexedRules = 0
        for function in functions {
            let candidates = function.namespace == rootNamespace ? root : root + (byNamespace[function.namespace] ?? [])
            let applying = candidates.filter { Self.applies(ordered[$0], to: function, rootNamespace: rootNamespace) }.sorted()
            guard !applying.isEmpty else { continue }
            let applicable: Applicable
            if let known = shared[applying] {
                applicable = known
            } else {
                for position in applying where reasons[position] == nil { reasons[position] = Applicable.matchedReasons(ordered[position]) }
                let ruleCount = applying.reduce(0) { $0 + ordered[$1].rules.count }
                let indexing = indexedRules + ruleCount <= indexedRuleBudget
                if indexing { indexedRules += ruleCount }
                applicable = Applicable(applying.map { (ordered[$0], reasons[$0] ?? []) }, indexed: indexing)
                shared[applying] = applicable
            }
            byFunction[function.key] = Protected(
                policies: applicable, noAllowReason: "no ALLOW policy applies to \(function.key) and no DENY policy matched")
        }
        self.byFunction = byFunction
    }

    /// Rules indexed across every distinct set of applying policies (see `init`).
    public static let indexedRuleBudget = 200_000

    /// The policies that apply to a function, by namespace, then name.
    public func policies(for function: FunctionKey) -> [AuthorizationPolicySpec] {
        byFunction[function]?.policies.all ?? []
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
        guard let applicable = byFunction[function]?.policies, !applicable.custom.isEmpty else { return nil }
        return applicable.index.withCandidates(for: request) { request, candidates in
            applicable.firstMatch(in: applicable.custom, request, candidates).map { policy, number in
                (applicable.checked[policy], number - applicable.firstRule[policy])
            }
        }
    }

    /// The DENY/ALLOW decision for a request to `function` (CUSTOM policies are asked first, by
    /// the caller, through `customPolicy`). Allowing allocates nothing; a denial writes its reason.
    public func decide(_ request: AuthorizationRequest, function: FunctionKey) -> AccessDecision {
        guard let protected = byFunction[function] else { return unprotected(function) }
        let applicable = protected.policies
        return applicable.index.withCandidates(for: request) { request, candidates in
            applicable.decide(request, candidates, noAllowReason: protected.noAllowReason)
        }
    }

    /// `decide` checking every rule of every policy, without the index: the reference it is tested against.
    func decideByScan(_ request: AuthorizationRequest, function: FunctionKey) -> AccessDecision {
        guard let protected = byFunction[function] else { return unprotected(function) }
        return protected.policies.decide(request, .everyRule, noAllowReason: protected.noAllowReason)
    }

    /// How many rules `function` has, and how many of them the index leaves in play for `request`:
    /// for tests that check the index prunes at all.
    func ruleCount(function: FunctionKey) -> Int {
        byFunction[function]?.policies.index.ruleCount ?? 0
    }

    func candidateCount(_ request: AuthorizationRequest, function: FunctionKey) -> Int {
        guard let applicable = byFunction[function]?.policies else { return 0 }
        return applicable.index.withCandidates(for: request) { _, candidates in
            var count = 0
            var next = candidates.next(from: 0, below: applicable.index.ruleCount)
            while let number = next {
                count += 1
                next = candidates.next(from: number + 1, below: applicable.index.ruleCount)
            }
            return count
        }
    }

    private func unprotected(_ function: FunctionKey) -> AccessDecision {
        AccessDecision(outcome: .allow, reason: "no authorization policy applies to \(function)")
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
