import GatehouseConfig
import GatehouseCore
import GatehouseStore

/// The Brokers, Triggers and EventPolicies of one config snapshot, compiled for the request path
/// and the dispatcher: filters parsed once, delivery settings resolved (a Trigger's over its
/// Broker's), the ingress address. Immutable; rebuilt with every snapshot.
public struct BrokerDirectory: Sendable {
    public struct Broker: Sendable {
        public var spec: BrokerSpec
        /// The built-in workload policies see when events are published to it.
        public var workload: FunctionSpec
        public var triggers: [Trigger]
        /// The EventPolicies that apply to it; none: every caller the other stages let through may publish.
        public var policies: [EventPolicy]
        /// Not a Broker anyone declared: a PingSource whose sink is a destination, delivered through
        /// one implicit trigger (`pingsource/NAME`) so its events are as durable as a Broker's.
        public var isSourceSink = false
    }

    public struct Trigger: Sendable {
        public var spec: TriggerSpec
        public var ref: TriggerRef
        public var broker: BrokerRef
        public var filter: EventFilter
        public var delivery: DeliveryPolicy
        /// The SPIFFE ID deliveries carry: `spiffe://TD/ns/NS/sa/gatehouse-broker.BROKER.TRIGGER`.
        public var identity: String
    }

    public struct EventPolicy: Sendable {
        public var spec: EventPolicySpec
        public var filter: EventFilter?
    }

    public let brokers: [BrokerRef: Broker]
    public let triggers: [TriggerRef: Trigger]
    /// The hosts the broker ingress answers on: `broker-ingress.<domain>`, and Knative's own
    /// `broker-ingress.knative-eventing.svc.cluster.local` so clients configured for Knative work.
    public let hosts: Set<String>
    public let trustDomain: String
    /// Functions are `NAME.NAMESPACE.<domain>`: where deliveries to a Function ref go.
    public let domain: String
    /// Each function's own `timeout`: an attempt's when the delivery sets none.
    let functionTimeouts: [FunctionKey: Duration]

    public init(snapshot: ConfigSnapshot) {
        trustDomain = snapshot.mesh.trustDomain
        domain = snapshot.mesh.domain
        functionTimeouts = Dictionary(snapshot.functions.map { ($0.key, $0.timeout) }, uniquingKeysWith: { first, _ in first })
        hosts = [Self.ingressHost(domain: snapshot.mesh.domain), "broker-ingress.knative-eventing.svc.cluster.local"]
        var brokers: [BrokerRef: Broker] = [:]
        var triggers: [TriggerRef: Trigger] = [:]
        for spec in snapshot.brokers {
            let ref = BrokerRef(namespace: spec.namespace, name: spec.name)
            let policies = snapshot.eventPolicies.filter { $0.applies(to: spec) }.map { policy in
                EventPolicy(spec: policy, filter: policy.filters.isEmpty ? nil : EventFilter(attributes: [:], filters: policy.filters))
            }
            brokers[ref] = Broker(spec: spec, workload: .brokerIngress(for: spec), triggers: [], policies: policies)
        }
        for spec in snapshot.triggers {
            let brokerRef = BrokerRef(namespace: spec.namespace, name: spec.broker)
            guard let broker = brokers[brokerRef] else { continue }  // Knative: not ready until its broker exists
            let ref = TriggerRef(namespace: spec.namespace, name: spec.name)
            let trigger = Trigger(
                spec: spec, ref: ref, broker: brokerRef, filter: EventFilter(attributes: spec.attributes, filters: spec.filters),
                delivery: DeliveryPolicy(trigger: spec.delivery, broker: broker.spec.delivery),
                identity: "spiffe://\(snapshot.mesh.trustDomain)/ns/\(spec.namespace)/sa/\(Self.serviceAccount(broker: spec.broker, trigger: spec.name))")
            triggers[ref] = trigger
            brokers[brokerRef]?.triggers.append(trigger)
        }
        // A PingSource sending straight to a function: one implicit broker and trigger of its own.
        for source in snapshot.pingSources {
            guard case .destination(let destination) = source.sink else { continue }
            let name = Self.sourceSinkName(source.name)
            let spec = BrokerSpec(namespace: source.namespace, name: name, source: source.source)
            let brokerRef = BrokerRef(namespace: source.namespace, name: name)
            let ref = TriggerRef(namespace: source.namespace, name: name)
            let triggerSpec = TriggerSpec(namespace: source.namespace, name: name, broker: name, subscriber: destination, source: source.source)
            let trigger = Trigger(
                spec: triggerSpec, ref: ref, broker: brokerRef, filter: EventFilter(attributes: [:], filters: []),
                delivery: DeliveryPolicy(trigger: nil, broker: nil),
                identity: "spiffe://\(snapshot.mesh.trustDomain)/ns/\(source.namespace)/sa/\(ReservedServiceAccounts.pingSourcePrefix)\(source.name)")
            brokers[brokerRef] = Broker(spec: spec, workload: .brokerIngress(for: spec), triggers: [trigger], policies: [], isSourceSink: true)
            triggers[ref] = trigger
        }
        self.brokers = brokers
        self.triggers = triggers
    }

    /// The implicit broker and trigger of a PingSource whose sink is not a Broker.
    public static func sourceSinkName(_ pingSource: String) -> String { "pingsource/\(pingSource)" }

    /// Where a PingSource's events go in: its sink Broker, or its implicit one.
    public func broker(for source: PingSourceSpec) -> Broker? {
        switch source.sink {
        case .broker(let namespace, let name): brokers[BrokerRef(namespace: namespace, name: name)]
        case .destination: brokers[BrokerRef(namespace: source.namespace, name: Self.sourceSinkName(source.name))]
        }
    }

    public static func ingressHost(domain: String) -> String { "broker-ingress.\(domain)" }

    /// How long one attempt to `destination` may take: the delivery's `timeout`, else the
    /// function's own `timeout`, else `fallback` (a URI destination).
    public func attemptTimeout(_ delivery: DeliveryPolicy, to destination: EventDestination, fallback: Duration) -> Duration {
        if let timeout = delivery.timeout { return timeout }
        if case .function(let namespace, let name, _) = destination.target, let timeout = functionTimeouts[FunctionKey(namespace: namespace, name: name)] {
            return timeout
        }
        return fallback
    }

    public static func serviceAccount(broker: String, trigger: String) -> String {
        ReservedServiceAccounts.brokerPrefix + broker + "." + trigger
    }

    /// The Broker a request path names (`/NAMESPACE/NAME`, Knative's shape), if it exists.
    public func broker(atPath path: Substring) -> Broker? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 3, segments[0].isEmpty else { return nil }
        return brokers[BrokerRef(namespace: String(segments[1]), name: String(segments[2]))].flatMap { $0.isSourceSink ? nil : $0 }
    }

    /// The Triggers of `broker` whose filters `event` matches.
    public func matchingTriggers(of broker: BrokerRef, for event: CloudEvent) -> [TriggerRef] {
        (brokers[broker]?.triggers ?? []).filter { $0.filter.matches(event) }.map(\.ref)
    }

    /// The built-in broker workloads, for the stages that look policies up by workload.
    public var workloads: [FunctionSpec] { brokers.values.filter { !$0.isSourceSink }.map(\.workload).sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) } }
}
