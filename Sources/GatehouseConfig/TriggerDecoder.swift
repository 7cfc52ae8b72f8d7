import GatehouseCore

/// Decodes a Knative `Trigger` (`eventing.knative.dev/v1`) with Knative's validation: a `broker`
/// (or a `brokerRef` in the same namespace), a `subscriber`, filters that Knative would accept.
enum TriggerDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> (spec: TriggerSpec?, notices: [String]) {
        // One DNS label, no dots: the name is part of a trigger's service account
        // (`gatehouse-broker.BROKER.TRIGGER`), which must read one way only.
        if let nameValue = envelope.nameValue, let problem = NameRules.dns1123LabelProblem(envelope.name) {
            nameValue.report(problem, fix: "write `name: \(NameRules.suggestedLabel(for: envelope.name))`")
        }
        var notices: [String] = []
        defer { envelope.root.reportUnknownKeys() }
        guard let spec = envelope.root.required("spec", fix: "add `spec:` with `broker:` and `subscriber:`")?.mapping() else {
            return (nil, notices)
        }
        defer { spec.reportUnknownKeys() }
        let broker = brokerName(spec)
        let attributes = spec.field("filter").map(EventFilterDecoder.attributes) ?? [:]
        let filters = spec.field("filters").map(EventFilterDecoder.filters) ?? []
        if !attributes.isEmpty, !filters.isEmpty {
            notices.append("spec.filter is ignored because spec.filters is set (as in Knative)")
        }
        let subscriberValue = spec.required(
            "subscriber", fix: "add `subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: NAME}}`")
        var subscriber: EventDestination?
        if let subscriberValue {
            switch EventDestinationDecoder.decode(subscriberValue, namespace: envelope.namespace, notices: &notices) {
            case .destination(let destination): subscriber = destination
            case .broker, nil: break
            }
        }
        let delivery = spec.field("delivery").flatMap { DeliverySpecDecoder.decode($0, namespace: envelope.namespace, notices: &notices) }
        guard let broker, let subscriber else { return (nil, notices) }
        return (TriggerSpec(
            namespace: envelope.namespace, name: envelope.name, broker: broker, attributes: attributes, filters: filters,
            subscriber: subscriber, delivery: delivery, labels: envelope.labels, source: envelope.location), notices)
    }

    /// `broker: NAME`, or `brokerRef: {kind: Broker, name: NAME}` — one of them.
    private static func brokerName(_ spec: YAMLMappingReader) -> String? {
        let reference = spec.field("brokerRef")
        // `required` so that a misspelt `broker` is one message, at the misspelling.
        let name = reference == nil ? spec.required("broker", fix: "add `broker: default`") : spec.field("broker")
        if name != nil, reference != nil {
            spec.diagnostics.report(
                at: spec.location, field: spec.fieldPath("brokerRef"), "`broker` and `brokerRef` cannot both be set",
                fix: "keep `broker: NAME`")
            return nil
        }
        if let name { return name.string() }
        guard let reference else { return nil }
        guard let mapping = reference.mapping() else { return nil }
        defer { mapping.reportUnknownKeys() }
        let kind = mapping.field("kind")?.string() ?? "Broker"
        _ = mapping.field("apiVersion")
        let brokerName = mapping.required("name", fix: "add `name:` with the Broker's name")?.string()
        if let namespace = mapping.field("namespace") {
            namespace.report("a Trigger's Broker is in the Trigger's namespace", fix: "remove `namespace`")
            return nil
        }
        guard kind == "Broker" else {
            mapping.field("kind")?.report("a Trigger subscribes to a Broker, not a \(kind)", fix: "write `kind: Broker`")
            return nil
        }
        return brokerName
    }
}
