import GatehouseCore

/// Lookups the broker, the dispatcher and the CLI make on a snapshot's Knative resources.
extension ConfigSnapshot {
    public func broker(namespace: String, name: String) -> BrokerSpec? {
        brokers.first { $0.namespace == namespace && $0.name == name }
    }

    public func trigger(namespace: String, name: String) -> TriggerSpec? {
        triggers.first { $0.namespace == namespace && $0.name == name }
    }

    /// The Triggers subscribed to `broker`, by name.
    public func triggers(of broker: BrokerSpec) -> [TriggerSpec] {
        triggers.filter { $0.namespace == broker.namespace && $0.broker == broker.name }
    }

    /// The Trigger's delivery over its Broker's, with defaults.
    public func deliveryPolicy(for trigger: TriggerSpec) -> DeliveryPolicy {
        DeliveryPolicy(trigger: trigger, broker: broker(namespace: trigger.namespace, name: trigger.broker))
    }

    /// The EventPolicies that apply to `broker` (none: every sender the request's other policies let in).
    public func eventPolicies(for broker: BrokerSpec) -> [EventPolicySpec] {
        eventPolicies.filter { $0.applies(to: broker) }
    }

    /// The RateLimitPolicies that name `trigger` in their `targetRefs`.
    public func rateLimits(for trigger: TriggerSpec) -> [RateLimitPolicySpec] {
        rateLimits.filter { $0.applies(to: trigger) }
    }
}
