import GatehouseCore

/// Decodes a Knative `Broker` (`eventing.knative.dev/v1`). Its `spec` may be absent (the usual
/// `kind: Broker` with a name); `config` names the channel implementation in Knative and means
/// nothing here (Gatehouse's broker is built in), so it is accepted with a notice.
enum BrokerDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> (spec: BrokerSpec, notices: [String]) {
        // One DNS label, no dots: the name is part of a trigger's service account
        // (`gatehouse-broker.BROKER.TRIGGER`), which must read one way only.
        if let nameValue = envelope.nameValue, let problem = NameRules.dns1123LabelProblem(envelope.name) {
            nameValue.report(problem, fix: "write `name: \(NameRules.suggestedLabel(for: envelope.name))`")
        }
        var broker = BrokerSpec(namespace: envelope.namespace, name: envelope.name, labels: envelope.labels, source: envelope.location)
        var notices: [String] = []
        defer { envelope.root.reportUnknownKeys() }
        guard let spec = envelope.root.field("spec")?.mapping() else { return (broker, notices) }
        defer { spec.reportUnknownKeys() }
        if spec.field("config") != nil {
            notices.append("spec.config ignored: Gatehouse's broker is built in and keeps events in its store")
        }
        if let delivery = spec.field("delivery") {
            broker.delivery = DeliverySpecDecoder.decode(delivery, namespace: envelope.namespace, notices: &notices)
        }
        return (broker, notices)
    }
}
