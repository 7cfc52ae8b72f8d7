import GatehouseCore

extension AuthorizationEngine {
    /// The policies that apply to a function (or to several alike), ready for `decide`: sorted into
    /// what each action needs, their rules numbered in the order they are checked and indexed, and
    /// the sentence each matched rule records written in advance, so allowing allocates nothing.
    ///
    /// A class, so a dictionary probe hands out a reference rather than copying every array.
    final class Applicable: Sendable {
        /// By namespace, then name.
        let all: [AuthorizationPolicySpec]
        /// The order `decide` checks them: DENY, ALLOW, AUDIT, CUSTOM, then dry-run policies, each
        /// group by namespace, then name. Policy numbers below are positions here.
        let checked: [AuthorizationPolicySpec]
        let deny: Range<Int>, allow: Range<Int>, audit: Range<Int>, custom: Range<Int>, dryRun: Range<Int>
        /// `namespace/name` of each checked policy.
        let references: [String]
        /// Policy `p`'s rules are numbered `firstRule[p]..<firstRule[p + 1]`.
        let firstRule: [Int]
        /// Every rule by number, and the policy it belongs to.
        let rules: [AuthorizationPolicySpec.Rule]
        let owner: [Int32]
        /// What a DENY or ALLOW decision says when the rule with that number matched.
        let matchedReasons: [String]
        let index: RuleIndex

        /// `policies` with the sentences of their rules (`matchedReasons(_:)`), by namespace, then
        /// name; `indexed: false` checks every rule (the same answers, without an index's memory).
        init(_ policies: [(spec: AuthorizationPolicySpec, reasons: [String])], indexed: Bool = true) {
            let reasonsOf = Dictionary(policies.map { ($0.spec.reference, $0.reasons) }, uniquingKeysWith: { first, _ in first })
            let policies = policies.map(\.spec)
            all = policies
            let enforced = policies.filter { !$0.dryRun }
            let groups = [
                enforced.filter { $0.action == .deny }, enforced.filter { $0.action == .allow },
                enforced.filter { $0.action == .audit }, enforced.filter { $0.action == .custom }, policies.filter(\.dryRun),
            ]
            var bounds = [0]
            for group in groups { bounds.append(bounds[bounds.count - 1] + group.count) }
            (deny, allow, audit, custom, dryRun) = (bounds[0]..<bounds[1], bounds[1]..<bounds[2], bounds[2]..<bounds[3],
                                                    bounds[3]..<bounds[4], bounds[4]..<bounds[5])
            let checked = groups.flatMap { $0 }
            let references = checked.map(\.reference)
            var firstRule = [0], rules: [AuthorizationPolicySpec.Rule] = [], owner: [Int32] = [], reasons: [String] = []
            for (number, policy) in checked.enumerated() {
                firstRule.append(firstRule[number] + policy.rules.count)
                rules += policy.rules
                owner += repeatElement(Int32(number), count: policy.rules.count)
                reasons += reasonsOf[policy.reference] ?? Self.matchedReasons(policy)
            }
            (self.checked, self.references) = (checked, references)
            (self.firstRule, self.rules, self.owner, matchedReasons) = (firstRule, rules, owner, reasons)
            index = RuleIndex(rules: rules, indexed: indexed)
        }

        /// What a DENY or ALLOW decision says when each of `policy`'s rules matched ("" for the others).
        static func matchedReasons(_ policy: AuthorizationPolicySpec) -> [String] {
            let decides = !policy.dryRun && (policy.action == .deny || policy.action == .allow)
            return policy.rules.indices.map { index in
                decides ? "\(policy.action.rawValue) policy \(policy.reference) rule \(index) matched: \(PolicyDescription.rule(policy.rules[index]))" : ""
            }
        }

        /// The first rule of policy `policy` that matches, among the candidates.
        func firstMatch(_ policy: Int, _ request: AuthorizationRequest, _ candidates: CandidateBits) -> Int? {
            let end = firstRule[policy + 1]
            var next = candidates.next(from: firstRule[policy], below: end)
            while let number = next {
                if PolicyMatcher.matches(rules[number], request) { return number - firstRule[policy] }
                next = candidates.next(from: number + 1, below: end)
            }
            return nil
        }

        /// The first policy of `group` with a matching rule, and that rule (its number): candidates
        /// come in rule-number order, which is policy order, then rule order.
        func firstMatch(in group: Range<Int>, _ request: AuthorizationRequest, _ candidates: CandidateBits) -> (policy: Int, rule: Int)? {
            let end = firstRule[group.upperBound]
            var next = candidates.next(from: firstRule[group.lowerBound], below: end)
            while let number = next {
                if PolicyMatcher.matches(rules[number], request) { return (Int(owner[number]), number) }
                next = candidates.next(from: number + 1, below: end)
            }
            return nil
        }
    }
}
