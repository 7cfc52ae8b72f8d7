/// A Knative `Trigger` (`eventing.knative.dev/v1`): which of a Broker's events go to which subscriber.
public struct TriggerSpec: Sendable, Hashable {
    public var namespace: String
    public var name: String
    /// The Broker's name, in the Trigger's namespace.
    public var broker: String
    /// `filter.attributes`: exact values; "" matches any non-empty value of an attribute that is
    /// present. Ignored when `filters` is not empty, as in Knative (`EventFilter`).
    public var attributes: [String: String]
    /// `filters`: each must match.
    public var filters: [EventFilterSpec]
    public var subscriber: EventDestination
    /// The Trigger's own `delivery`; fields it leaves nil come from the Broker's.
    public var delivery: DeliverySpec?
    public var labels: [String: String]
    public var source: SourceLocation?

    public init(
        namespace: String, name: String, broker: String, attributes: [String: String] = [:], filters: [EventFilterSpec] = [],
        subscriber: EventDestination, delivery: DeliverySpec? = nil, labels: [String: String] = [:], source: SourceLocation? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.broker = broker
        self.attributes = attributes
        self.filters = filters
        self.subscriber = subscriber
        self.delivery = delivery
        self.labels = labels
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }
}
