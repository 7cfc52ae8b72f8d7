import GatehouseCore

/// Knative's EventPolicy decision for one event on one Broker: with no EventPolicy applying, every
/// sender the other stages let through may publish; with some, the event is accepted when one of
/// them names the sender in `from` and its `filters` match the event. The decision names the
/// policy that allowed it, or why none did.
enum EventPolicyCheck {
    static func decide(_ event: CloudEvent, from sender: EventSender, to broker: BrokerDirectory.Broker) -> AccessDecision {
        guard !broker.policies.isEmpty else {
            return AccessDecision(outcome: .allow, reason: "no EventPolicy applies to Broker \(broker.spec.reference)")
        }
        var senderMatched: String?
        for policy in broker.policies where policy.spec.from.contains(where: { matches($0, sender) }) {
            senderMatched = policy.spec.reference
            if policy.filter?.matches(event) ?? true {
                return AccessDecision(outcome: .allow, policy: "EventPolicy " + policy.spec.reference, reason: "EventPolicy \(policy.spec.reference) allows \(sender.description)")
            }
        }
        let reason = senderMatched.map { "the event does not match the filters of EventPolicy \($0)" }
            ?? "no EventPolicy on Broker \(broker.spec.reference) allows \(sender.description)"
        return AccessDecision(outcome: .deny, policy: senderMatched.map { "EventPolicy " + $0 }, reason: reason)
    }

    static func matches(_ allowed: EventPolicySpec.Sender, _ sender: EventSender) -> Bool {
        switch (allowed, sender) {
        case (.subject(let pattern), .caller(let names)):
            if pattern == "*" { return !names.isEmpty }
            if pattern.hasSuffix("*") {
                let prefix = pattern.dropLast()
                return names.contains { $0.hasPrefix(prefix) }
            }
            return names.contains(pattern)
        case (.source(let kind, let namespace, let name), .source(let senderKind, let senderNamespace, let senderName)):
            return kind == senderKind && namespace == senderNamespace && name == senderName
        default:
            return false
        }
    }
}
