import GatehouseStore
import GatehouseTelemetry
import NIOConcurrencyHelpers
import Prometheus

/// Knative Eventing's broker metrics under the names its multi-tenant broker exports to Prometheus
/// (`mt_broker_ingress_*` for publishing, `mt_broker_filter_*` for delivery to triggers), with its
/// labels; plus Gatehouse's queue gauges and the trigger breaker.
///
/// `event_type` is the publisher's to choose: each broker keeps at most `maxEventTypes` distinct
/// values as labels, later ones count as `other`, so a flood of invented types cannot grow the
/// registry without bound.
public final class EventMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let maxEventTypes: Int
    private let seenTypes = NIOLockedValueBox<[BrokerRef: Set<String>]>([:])

    public init(registry: PrometheusCollectorRegistry, maxEventTypes: Int = 100) {
        self.registry = registry
        self.maxEventTypes = maxEventTypes
    }

    /// An event published to `broker` was answered `status`, after `seconds` (storing included).
    func published(broker: BrokerRef, eventType: String, status: Int, seconds: Double) {
        let labels = [
            ("broker_name", broker.name), ("event_type", boundedType(eventType, broker: broker)), ("namespace_name", broker.namespace),
            ("response_code", String(status)), ("response_code_class", "\(status / 100)xx"), ("unique_name", "gatehouse"),
        ]
        registry.makeCounter(descriptor: .named("mt_broker_ingress_event_count", help: "Events received by a Broker, by response code."), labels: labels)
            .increment()
        registry.makeValueHistogram(
            descriptor: .named("mt_broker_ingress_event_dispatch_latencies", help: "Time to store an event a Broker received, in milliseconds."),
            labels: labels, buckets: Self.millisecondBuckets
        ).record(seconds * 1000)
    }

    /// One delivery attempt to a trigger's subscriber (status 0: no response).
    func dispatched(trigger: TriggerRef, broker: BrokerRef, eventType: String, status: Int, seconds: Double) {
        let labels = [
            ("broker_name", broker.name), ("event_type", boundedType(eventType, broker: broker)), ("filter_type", "trigger"),
            ("namespace_name", trigger.namespace), ("response_code", Self.boundedCode(status)), ("response_code_class", status == 0 ? "none" : "\(status / 100)xx"),
            ("trigger_name", trigger.name), ("unique_name", "gatehouse"),
        ]
        registry.makeCounter(descriptor: .named("mt_broker_filter_event_count", help: "Delivery attempts to a Trigger's subscriber, by response code."), labels: labels)
            .increment()
        registry.makeValueHistogram(
            descriptor: .named("mt_broker_filter_event_dispatch_latencies", help: "Time a Trigger's subscriber took to answer a delivery, in milliseconds."),
            labels: labels, buckets: Self.millisecondBuckets
        ).record(seconds * 1000)
    }

    /// Time from an event's acceptance to the start of its delivery.
    func processing(trigger: TriggerRef, broker: BrokerRef, seconds: Double) {
        let labels = [("broker_name", broker.name), ("filter_type", "trigger"), ("namespace_name", trigger.namespace), ("trigger_name", trigger.name), ("unique_name", "gatehouse")]
        registry.makeValueHistogram(
            descriptor: .named("mt_broker_filter_event_processing_latencies", help: "Time from an event's acceptance to its delivery to a Trigger's subscriber starting, in milliseconds."),
            labels: labels, buckets: Self.millisecondBuckets
        ).record(seconds * 1000)
    }

    func deadLettered(trigger: TriggerRef, broker: BrokerRef) {
        registry.makeCounter(
            descriptor: .named("gatehouse_event_dead_letters_total", help: "Events whose delivery to a Trigger's subscriber gave up."),
            labels: [("broker_name", broker.name), ("namespace_name", trigger.namespace), ("trigger_name", trigger.name)]
        ).increment()
    }

    /// The store's backlog: undelivered events per trigger and the age of the oldest.
    func backlog(trigger: TriggerRef, broker: BrokerRef, depth: Int, oldestAgeSeconds: Double) {
        let labels = [("broker_name", broker.name), ("namespace_name", trigger.namespace), ("trigger_name", trigger.name)]
        registry.makeGauge(descriptor: .named("gatehouse_event_queue_depth", help: "Events accepted and not yet delivered to a Trigger's subscriber."), labels: labels)
            .set(Double(depth))
        registry.makeGauge(
            descriptor: .named("gatehouse_event_oldest_undelivered_age_seconds", help: "Age of the oldest event not yet delivered to a Trigger's subscriber, in seconds."),
            labels: labels
        ).set(oldestAgeSeconds)
    }

    /// 1 while the trigger's breaker holds its deliveries.
    func paused(trigger: TriggerRef, broker: BrokerRef, _ paused: Bool) {
        registry.makeGauge(
            descriptor: .named("gatehouse_trigger_paused", help: "1 while a Trigger's circuit breaker holds its deliveries after repeated failures."),
            labels: [("broker_name", broker.name), ("namespace_name", trigger.namespace), ("trigger_name", trigger.name)]
        ).set(paused ? 1.0 : 0.0)
    }

    private func boundedType(_ type: String, broker: BrokerRef) -> String {
        let value = String(type.utf8.prefix(128)) ?? "other"
        return seenTypes.withLockedValue { seen in
            if seen[broker, default: []].contains(value) { return value }
            guard seen[broker, default: []].count < maxEventTypes else { return "other" }
            seen[broker, default: []].insert(value)
            return value
        }
    }

    /// The subscriber chooses its status: unusual ones share `other` (their class still shows).
    static func boundedCode(_ status: Int) -> String {
        commonCodes.contains(status) ? String(status) : "other"
    }

    static let commonCodes: Set<Int> = [0, 200, 201, 202, 204, 400, 401, 403, 404, 408, 409, 410, 413, 415, 422, 429, 500, 501, 502, 503, 504]

    static let millisecondBuckets: [Double] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
}
