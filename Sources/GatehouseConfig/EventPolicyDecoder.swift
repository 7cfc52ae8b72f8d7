import GatehouseCore

/// Decodes a Knative `EventPolicy` (`eventing.knative.dev/v1alpha1`) with Knative's validation:
/// each `to` is a `ref` or a `selector`, each `from` a `ref` or a `sub` (a trailing `*` only).
/// Gatehouse's event ingress is its Brokers, so `to` names Brokers.
enum EventPolicyDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> (spec: EventPolicySpec, notices: [String]) {
        var policy = EventPolicySpec(namespace: envelope.namespace, name: envelope.name, source: envelope.location)
        var notices: [String] = []
        defer { envelope.root.reportUnknownKeys() }
        guard let spec = envelope.root.field("spec")?.mapping() else {
            return (policy, notices)
        }
        defer { spec.reportUnknownKeys() }
        policy.to = (spec.field("to")?.sequence() ?? []).compactMap(target)
        policy.from = (spec.field("from")?.sequence() ?? []).compactMap { sender($0, namespace: envelope.namespace, notices: &notices) }
        policy.filters = spec.field("filters").map(EventFilterDecoder.filters) ?? []
        if spec.field("from") == nil {
            notices.append("spec.from is empty: the policy allows no sender")
        }
        return (policy, notices)
    }

    private static func target(_ value: YAMLValue) -> EventPolicySpec.Target? {
        guard let entry = value.mapping() else { return nil }
        defer { entry.reportUnknownKeys() }
        let reference = entry.field("ref"), selector = entry.field("selector")
        guard (reference == nil) != (selector == nil) else {
            value.report(
                reference == nil ? "needs `ref` or `selector`" : "`ref` and `selector` cannot both be set",
                fix: "write `ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}`")
            return nil
        }
        if let reference, let mapping = reference.mapping() {
            defer { mapping.reportUnknownKeys() }
            let apiVersion = mapping.required("apiVersion", fix: "add `apiVersion: eventing.knative.dev/v1`")?.string()
            let kind = mapping.required("kind", fix: "add `kind: Broker`")?.string()
            let name = mapping.required("name", fix: "add `name:` with the Broker's name")?.string()
            guard let apiVersion, let kind, let name else { return nil }
            guard isBroker(apiVersion: apiVersion, kind: kind, at: mapping) else { return nil }
            return .broker(name: name)
        }
        guard let mapping = selector?.mapping() else { return nil }
        defer { mapping.reportUnknownKeys() }
        let apiVersion = mapping.field("apiVersion")?.string()
        let kind = mapping.field("kind")?.string()
        if apiVersion != nil || kind != nil, !isBroker(apiVersion: apiVersion ?? "eventing.knative.dev/v1", kind: kind ?? "Broker", at: mapping) {
            return nil
        }
        if mapping.field("matchExpressions") != nil {
            mapping.diagnostics.report(
                at: mapping.location, field: mapping.fieldPath("matchExpressions"), "matchExpressions is not supported",
                fix: "select Brokers with `matchLabels`")
            return nil
        }
        return .selector(mapping.field("matchLabels")?.stringMap() ?? [:])
    }

    private static func isBroker(apiVersion: String, kind: String, at mapping: YAMLMappingReader) -> Bool {
        guard kind == "Broker", ResourceKey.group(ofAPIVersion: apiVersion) == "eventing.knative.dev" else {
            mapping.diagnostics.report(
                at: mapping.location, field: mapping.fieldPath("kind"),
                "Gatehouse takes events in through Brokers only, not \(apiVersion) \(kind)",
                fix: "write `apiVersion: eventing.knative.dev/v1` and `kind: Broker`")
            return false
        }
        return true
    }

    private static func sender(_ value: YAMLValue, namespace: String, notices: inout [String]) -> EventPolicySpec.Sender? {
        guard let entry = value.mapping() else { return nil }
        defer { entry.reportUnknownKeys() }
        let reference = entry.field("ref"), subject = entry.field("sub")
        guard (reference == nil) != (subject == nil) else {
            value.report(
                reference == nil ? "needs `ref` or `sub`" : "`ref` and `sub` cannot both be set",
                fix: "write `sub: system:serviceaccount:NAMESPACE:NAME` (or a SPIFFE ID, or a JWT subject)")
            return nil
        }
        if let subject {
            guard let text = subject.string() else { return nil }
            // Knative: `*` only as the last character.
            if text.isEmpty || text.dropLast().contains("*") {
                subject.report(text.isEmpty ? "must not be empty" : "`*` is only allowed at the end", fix: "write e.g. `sub: spiffe://cluster.local/ns/shop/*`")
                return nil
            }
            return .subject(text)
        }
        guard let mapping = reference?.mapping() else { return nil }
        defer { mapping.reportUnknownKeys() }
        let apiVersion = mapping.required("apiVersion", fix: "add `apiVersion: sources.knative.dev/v1`")?.string()
        let kind = mapping.required("kind", fix: "add `kind: PingSource`")?.string()
        let name = mapping.required("name", fix: "add `name:` with the source's name")?.string()
        let refNamespace = mapping.field("namespace")?.string() ?? namespace
        guard apiVersion != nil, let kind, let name else { return nil }
        if kind != "PingSource" {
            notices.append("\(mapping.path): Gatehouse runs PingSources only; \(kind) \(refNamespace)/\(name) allows no sender")
        }
        return .source(kind: kind, namespace: refNamespace, name: name)
    }
}
