/// A Knative `Broker` (`eventing.knative.dev/v1`): an address events are published to, held in
/// Gatehouse's store until every matching Trigger has them.
public struct BrokerSpec: Sendable, Hashable {
    public var namespace: String
    public var name: String
    /// Defaults for its Triggers' delivery.
    public var delivery: DeliverySpec?
    public var labels: [String: String]
    public var source: SourceLocation?

    public init(namespace: String, name: String, delivery: DeliverySpec? = nil, labels: [String: String] = [:], source: SourceLocation? = nil) {
        self.namespace = namespace
        self.name = name
        self.delivery = delivery
        self.labels = labels
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }
}
