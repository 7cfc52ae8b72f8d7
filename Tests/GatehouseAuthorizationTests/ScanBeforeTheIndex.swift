@testable import GatehouseAuthorization
import GatehouseCore

/// `AuthorizationEngine.decide`, `customPolicy` and the words of `PolicyMatcher.evaluate` as they
/// were before the rule index and the one-string reasons (commit f7c6a93), over a function's
/// applicable policies: every rule of every policy, in order.
enum ScanBeforeTheIndex {
    static func decide(_ policies: [AuthorizationPolicySpec], _ request: AuthorizationRequest, function: FunctionKey) -> AccessDecision {
        guard !policies.isEmpty else {
            return AccessDecision(outcome: .allow, reason: "no authorization policy applies to \(function)")
        }
        let enforced = policies.filter { !$0.dryRun }
        let deny = enforced.filter { $0.action == .deny }, allow = enforced.filter { $0.action == .allow }
        let audited = enforced.filter { $0.action == .audit }.compactMap { PolicyMatcher.firstMatch($0, request) != nil ? $0.reference : nil }
        let dryRun = policies.filter(\.dryRun).map { policy in
            let verdict = switch policy.action {
            case .deny: "would deny"
            case .allow: "would allow"
            case .audit: "would audit"
            case .custom: "would ask provider \(policy.provider ?? "?")"
            }
            return PolicyMatcher.firstMatch(policy, request).map { "\(policy.reference): \(verdict) (rule \($0))" }
                ?? "\(policy.reference): \(policy.action.rawValue) would not match"
        }
        for policy in deny {
            guard let rule = PolicyMatcher.firstMatch(policy, request) else { continue }
            return AccessDecision(
                outcome: .deny, policy: policy.reference, action: .deny, rule: rule,
                reason: "DENY policy \(policy.reference) rule \(rule) matched: \(PolicyDescription.rule(policy.rules[rule]))",
                audited: audited, dryRun: dryRun)
        }
        guard !allow.isEmpty else {
            return AccessDecision(
                outcome: .allow, reason: "no ALLOW policy applies to \(function) and no DENY policy matched", audited: audited, dryRun: dryRun)
        }
        for policy in allow {
            guard let rule = PolicyMatcher.firstMatch(policy, request) else { continue }
            return AccessDecision(
                outcome: .allow, policy: policy.reference, action: .allow, rule: rule,
                reason: "ALLOW policy \(policy.reference) rule \(rule) matched: \(PolicyDescription.rule(policy.rules[rule]))",
                audited: audited, dryRun: dryRun)
        }
        let shown = allow.prefix(3).map { policy in
            "\(policy.reference): \(misses(policy, request).first ?? "no match")"
        }
        let more = allow.count > 3 ? "; and \(allow.count - 3) more" : ""
        return AccessDecision(
            outcome: .deny, reason: "no ALLOW policy matched (\(shown.joined(separator: "; "))\(more))", audited: audited, dryRun: dryRun)
    }

    static func customPolicy(_ policies: [AuthorizationPolicySpec], _ request: AuthorizationRequest) -> (policy: AuthorizationPolicySpec, rule: Int)? {
        for policy in policies where !policy.dryRun && policy.action == .custom {
            if let rule = PolicyMatcher.firstMatch(policy, request) { return (policy, rule) }
        }
        return nil
    }

    /// `PolicyMatcher.evaluate(policy, request).misses`.
    static func misses(_ policy: AuthorizationPolicySpec, _ request: AuthorizationRequest) -> [String] {
        var misses: [String] = []
        for (index, rule) in policy.rules.enumerated() {
            guard let miss = miss(rule, request) else { return misses }
            misses.append("rule \(index): \(miss)")
        }
        if policy.rules.isEmpty { misses.append("it has no rules, so it matches no request") }
        return misses
    }

    static func miss(_ rule: AuthorizationPolicySpec.Rule, _ request: AuthorizationRequest) -> String? {
        if !rule.from.isEmpty {
            let reasons = rule.from.enumerated().map { index, source in
                PolicyMatcher.sourceVerdict(source, request).map { "from[\(index)].source.\(words($0))" }
            }
            if !reasons.contains(where: { $0 == nil }) { return reasons.compactMap { $0 }.joined(separator: "; ") }
        }
        if !rule.to.isEmpty {
            let reasons = rule.to.enumerated().map { index, operation in
                PolicyMatcher.operationVerdict(operation, request).map { "to[\(index)].operation.\(words($0))" }
            }
            if !reasons.contains(where: { $0 == nil }) { return reasons.compactMap { $0 }.joined(separator: "; ") }
        }
        for (index, condition) in rule.when.enumerated() {
            let verdict = PolicyMatcher.conditionVerdict(condition, request)
            if !verdict.isMatch {
                return "when[\(index)] \(condition.key): \(words(verdict, values: PolicyMatcher.attribute(condition.key, request).values))"
            }
        }
        return nil
    }

    static func words(_ miss: PolicyMatcher.FieldMiss) -> String {
        let name = "\(miss.field)"
        return "\(name.isEmpty ? "" : "\(name): ")\(words(miss.verdict, values: miss.value.map { [$0] } ?? []))"
    }

    static func words(_ verdict: PolicyMatcher.Verdict, values: [String]) -> String {
        let shown = values.map { "\"\($0)\"" }.joined(separator: ", ")
        switch verdict {
        case .match: return "matches"
        case .absent(let what): return "\(what)"
        case .notOneOf(let patterns): return "\(shown.isEmpty ? "absent" : shown) is not one of \(list(patterns))"
        case .excluded(let notField, let pattern): return "\(notField): \(shown) matches \"\(pattern)\""
        }
    }

    static func list(_ values: [String]) -> String {
        "[" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }
}
