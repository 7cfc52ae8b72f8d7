/// A Knative `EventPolicy` (`eventing.knative.dev/v1alpha1`): which authenticated senders may
/// publish to the Brokers it applies to, and which of their events. A Broker that any EventPolicy
/// applies to refuses (403) senders none of them allows; a Broker none applies to takes events
/// from every caller the request's other policies let through.
public struct EventPolicySpec: Sendable, Hashable {
    /// `spec.to`: a Broker by name, or Brokers by label. Empty: every Broker in the namespace.
    public enum Target: Sendable, Hashable {
        case broker(name: String)
        case selector([String: String])
    }

    /// `spec.from`: a sender.
    public enum Sender: Sendable, Hashable {
        /// `sub`: matched against the verified JWT's `sub` claim, its `iss/sub` principal, or the
        /// mTLS peer's SPIFFE ID (with or without `spiffe://`); a trailing `*` matches any rest.
        case subject(String)
        /// `ref` to a source Gatehouse runs (a PingSource): its own events.
        case source(kind: String, namespace: String, name: String)
    }

    public var namespace: String
    public var name: String
    public var to: [Target]
    public var from: [Sender]
    /// Events must also match every one of these.
    public var filters: [EventFilterSpec]
    public var source: SourceLocation?

    public init(namespace: String, name: String, to: [Target] = [], from: [Sender] = [], filters: [EventFilterSpec] = [], source: SourceLocation? = nil) {
        self.namespace = namespace
        self.name = name
        self.to = to
        self.from = from
        self.filters = filters
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }

    /// Whether it applies to `broker`.
    public func applies(to broker: BrokerSpec) -> Bool {
        guard broker.namespace == namespace else { return false }
        if to.isEmpty { return true }
        return to.contains { target in
            switch target {
            case .broker(let name): name == broker.name
            case .selector(let labels): labels.allSatisfy { broker.labels[$0.key] == $0.value }
            }
        }
    }
}
