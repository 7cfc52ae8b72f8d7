import GatehouseCore

/// Decodes a `gatehouse.dev/v1` `DelegationPolicy` strictly: a scope (`selector` or `targetRefs`, as
/// Istio's policies: the audiences actors may ask for), `actors` and `subjects` as Istio principal
/// patterns (`PrincipalPatternRules`), `maxDepth` 1…8 (default 1).
enum DelegationPolicyDecoder {
    static let depthRange = 1...8

    static func decode(_ envelope: DocumentEnvelope) -> DelegationPolicySpec {
        var policy = DelegationPolicySpec(namespace: envelope.namespace, name: envelope.name, source: envelope.location)
        defer { envelope.root.reportUnknownKeys() }
        guard let spec = envelope.root.required("spec", fix: "add `spec:` with `actors:`, `subjects:` and `targetRefs:` or `selector:`")?.mapping() else {
            return policy
        }
        defer { spec.reportUnknownKeys() }
        (policy.selector, policy.functions) = PolicyScopeDecoder.decode(spec)
        policy.actors = patterns(
            spec, "actors", problem: PrincipalPatternRules.actorProblem,
            wanted: "the agents that may act, e.g. [\"spiffe://cluster.local/ns/agents/sa/bot\"]",
            empty: "an empty `actors` list lets no one act: the policy would allow nothing")
        policy.subjects = patterns(
            spec, "subjects", problem: PrincipalPatternRules.subjectProblem,
            wanted: "the people actors may act for, e.g. [\"https://login.example.com/*\"], or [\"*\"] for anyone",
            empty: "an empty `subjects` list names no one to act for: the policy would allow nothing")
        if let field = spec.field("maxDepth"), let depth = field.int() {
            if depthRange.contains(depth) {
                policy.maxDepth = depth
            } else {
                field.report(
                    "must be between \(depthRange.lowerBound) and \(depthRange.upperBound), got \(depth)",
                    fix: "write 1 (an agent acting for a person, the default) or 2 (an agent calling another agent for them)")
            }
        }
        return policy
    }

    /// A required, non-empty list of principal patterns; each bad entry is reported where it is.
    private static func patterns(
        _ spec: YAMLMappingReader, _ key: String, problem: (String) -> (message: String, fix: String)?,
        wanted: String, empty: String
    ) -> [String] {
        guard let value = spec.required(key, fix: "add `\(key):` with \(wanted)"), let elements = value.sequence() else { return [] }
        if elements.isEmpty {
            value.report(empty, fix: "list \(wanted)")
            return []
        }
        return elements.compactMap { element in
            guard let text = element.string() else { return nil }
            if let problem = problem(text) {
                element.report(problem.message, fix: problem.fix)
                return nil
            }
            return text
        }
    }
}
