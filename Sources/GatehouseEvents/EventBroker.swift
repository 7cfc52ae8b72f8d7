import Foundation
import GatehouseCore
import GatehouseStore
import Synchronization

/// What the Brokers share for as long as Gatehouse runs: the durable store, the metrics, and the
/// signal that wakes the dispatcher when events arrive. Publishing — from the broker ingress, a
/// subscriber's reply or a PingSource — goes through `accept`, so every way in is checked,
/// stamped and stored the same way.
public final class EventBroker: Sendable {
    public let store: any EventStore
    let metrics: EventMetrics
    let decoder = CloudEventDecoder()
    let wakeup = Wakeup()
    /// Wakes the async call runner (a separate signal: one wakeup wakes one waiter).
    let callWakeup = Wakeup()
    let now: @Sendable () -> Date

    /// Knative's broker TTL: an event may go round (reply → broker → trigger → reply …) this many times.
    public static let defaultTTL = 255
    static let ttlExtension = "knativebrokerttl"

    public init(store: any EventStore, metrics: EventMetrics, now: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.metrics = metrics
        self.now = now
    }

    /// Why events were not accepted.
    public enum Refusal: Error, Sendable {
        case denied(AccessDecision)
        /// Stored nothing: at the store's bound, or the store failed.
        case notStored(GatehouseError)
    }

    /// Checks `events` against the Broker's EventPolicies, stamps them (TTL, trace context) and
    /// stores each with a delivery for every matching Trigger; returns only once they are durable.
    /// All or none: one refused event refuses the batch.
    public func accept(
        _ events: [CloudEvent], to broker: BrokerDirectory.Broker, in directory: BrokerDirectory, from sender: EventSender,
        traceparent: String?
    ) async -> Result<Int, Refusal> {
        let stored: [NewEvent]
        switch prepare(events, to: broker, in: directory, from: sender, traceparent: traceparent) {
        case .success(let prepared): stored = prepared
        case .failure(let refusal): return .failure(refusal)
        }
        guard !stored.isEmpty else { return .success(0) }
        do {
            switch try await store.accept(stored, now: now()) {
            case .accepted:
                if stored.contains(where: { !$0.triggers.isEmpty }) { wakeup.signal() }
                return .success(stored.count)
            case .full:
                return .failure(.notStored(GatehouseError(.eventStoreFull, detail: "the event store is at its bound", retryAfter: .seconds(1))))
            }
        } catch {
            return .failure(.notStored(GatehouseError(.eventStoreFailed, detail: "storing the event failed: \(error)", retryAfter: .seconds(1))))
        }
    }

    /// The policy check and stamping of `accept`, without storing: what a schedule stores
    /// together with its fired mark.
    func prepare(
        _ events: [CloudEvent], to broker: BrokerDirectory.Broker, in directory: BrokerDirectory, from sender: EventSender,
        traceparent: String?
    ) -> Result<[NewEvent], Refusal> {
        let ref = BrokerRef(namespace: broker.spec.namespace, name: broker.spec.name)
        var stored: [NewEvent] = []
        for var event in events {
            let decision = EventPolicyCheck.decide(event, from: sender, to: broker)
            guard decision.outcome == .allow else { return .failure(.denied(decision)) }
            if let ttl = event.extensions[Self.ttlExtension] {
                // An event that went round too often is acknowledged and dropped, as Knative's broker does.
                guard let remaining = Int(ttl), remaining > 0 else { continue }
                // A publisher cannot buy a longer loop than the default.
                if remaining > Self.defaultTTL { event.extensions[Self.ttlExtension] = String(Self.defaultTTL) }
            } else {
                event.extensions[Self.ttlExtension] = String(Self.defaultTTL)
            }
            if event.extensions["traceparent"] == nil, let traceparent { event.extensions["traceparent"] = traceparent }
            stored.append(NewEvent(broker: ref, event: event, triggers: directory.matchingTriggers(of: ref, for: event)))
        }
        return .success(stored)
    }
}
