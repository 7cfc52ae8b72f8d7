import GatehouseCore

extension AuthorizationEngine.Applicable {
    /// Istio's order over the candidate rules. With `CandidateBits.everyRule` this is the plain scan
    /// of every rule of every policy; with the index's candidates it must give the same decision,
    /// which the differential tests check.
    func decide(_ request: AuthorizationRequest, _ candidates: CandidateBits, noAllowReason: String) -> AccessDecision {
        var audited: [String] = []
        for policy in audit where firstMatch(policy, request, candidates) != nil { audited.append(references[policy]) }
        var dryRunNotes: [String] = []
        for policy in dryRun {
            dryRunNotes.append(dryRunNote(policy, firstMatch(policy, request, candidates)))
        }
        if let (policy, number) = firstMatch(in: deny, request, candidates) {
            return AccessDecision(
                outcome: .deny, policy: references[policy], action: .deny, rule: number - firstRule[policy],
                reason: matchedReasons[number], audited: audited, dryRun: dryRunNotes)
        }
        guard !allow.isEmpty else {
            return AccessDecision(outcome: .allow, reason: noAllowReason, audited: audited, dryRun: dryRunNotes)
        }
        if let (policy, number) = firstMatch(in: allow, request, candidates) {
            return AccessDecision(
                outcome: .allow, policy: references[policy], action: .allow, rule: number - firstRule[policy],
                reason: matchedReasons[number], audited: audited, dryRun: dryRunNotes)
        }
        return AccessDecision(outcome: .deny, reason: noAllowMatched(request), audited: audited, dryRun: dryRunNotes)
    }

    /// Why no ALLOW policy matched: the first miss of the first few; `gatehouse explain` shows them all.
    private func noAllowMatched(_ request: AuthorizationRequest) -> String {
        var reason = "no ALLOW policy matched ("
        reason.reserveCapacity(256)  // Room for three misses: growing it step by step cost a copy each time.
        for policy in allow.prefix(3) {
            if policy != allow.lowerBound { reason += "; " }
            reason += references[policy]
            reason += ": "
            PolicyMatcher.writeFirstMiss(checked[policy], request, to: &reason)
        }
        if allow.count > 3 { reason += "; and \(allow.count - 3) more" }
        reason += ")"
        return reason
    }

    private func dryRunNote(_ policy: Int, _ rule: Int?) -> String {
        let spec = checked[policy]
        guard let rule else { return "\(references[policy]): \(spec.action.rawValue) would not match" }
        let verdict = switch spec.action {
        case .deny: "would deny"
        case .allow: "would allow"
        case .audit: "would audit"
        case .custom: "would ask provider \(spec.provider ?? "?")"
        }
        return "\(references[policy]): \(verdict) (rule \(rule))"
    }
}
