import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseStore
import Prometheus
import Testing

@testable import GatehouseEvents

/// Publishing's checks and stamps, on a real store: EventPolicies decide by sender and filter, the
/// broker's TTL is set, capped and ends loops, a publisher's trace is carried on.
@Suite struct EventBrokerTests {
    static let yaml = """
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: default, namespace: default, labels: {team: shop}}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: open, namespace: default}
        ---
        apiVersion: eventing.knative.dev/v1alpha1
        kind: EventPolicy
        metadata: {name: shop, namespace: default}
        spec:
          to: [{selector: {apiVersion: eventing.knative.dev/v1, kind: Broker, matchLabels: {team: shop}}}]
          from: [{sub: "spiffe://cluster.local/ns/shop/*"}, {sub: "https://issuer.example/alice"}]
          filters: [{prefix: {type: shop.}}]
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: orders, namespace: default}
        spec:
          broker: default
          filter: {attributes: {type: shop.order}}
          subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: orders}}
        """

    func makeBroker() throws -> (EventBroker, BrokerDirectory, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteEventStore(path: directory.appendingPathComponent("events.db").path)
        let snapshot = try ConfigLoader.load(yaml: Self.yaml, file: "events.yaml")
        return (EventBroker(store: store, metrics: EventMetrics(registry: PrometheusCollectorRegistry())), BrokerDirectory(snapshot: snapshot), directory)
    }

    func event(_ type: String, ttl: String? = nil) -> CloudEvent {
        CloudEvent(id: UUID().uuidString, source: "/test", type: type, extensions: ttl.map { ["knativebrokerttl": $0] } ?? [:])
    }

    @Test func anEventPolicyAdmitsOnlyTheSendersAndEventsItNames() throws {
        let (broker, directory, folder) = try makeBroker()
        defer { try? FileManager.default.removeItem(at: folder) }
        let entry = try #require(directory.brokers[BrokerRef(namespace: "default", name: "default")])
        let mesh = EventSender.caller(names: ["spiffe://cluster.local/ns/shop/sa/cart", "cluster.local/ns/shop/sa/cart"])
        let alice = EventSender.caller(names: ["alice", "https://issuer.example/alice"])
        let stranger = EventSender.caller(names: ["spiffe://cluster.local/ns/other/sa/x"])
        #expect(EventPolicyCheck.decide(event("shop.order"), from: mesh, to: entry).outcome == .allow)
        #expect(EventPolicyCheck.decide(event("shop.order"), from: alice, to: entry).outcome == .allow)
        let denied = EventPolicyCheck.decide(event("shop.order"), from: stranger, to: entry)
        #expect(denied.outcome == .deny && denied.reason.contains("no EventPolicy"))
        #expect(EventPolicyCheck.decide(event("shop.order"), from: .caller(names: []), to: entry).outcome == .deny)
        let filtered = EventPolicyCheck.decide(event("other.thing"), from: mesh, to: entry)
        #expect(filtered.outcome == .deny && filtered.reason.contains("filters"))
        // A broker no EventPolicy selects takes every caller.
        let open = try #require(directory.brokers[BrokerRef(namespace: "default", name: "open")])
        #expect(EventPolicyCheck.decide(event("x"), from: .caller(names: []), to: open).outcome == .allow)
        _ = broker
    }

    @Test func theTTLIsStampedCappedAndEndsLoops() throws {
        let (broker, directory, folder) = try makeBroker()
        defer { try? FileManager.default.removeItem(at: folder) }
        let open = try #require(directory.brokers[BrokerRef(namespace: "default", name: "open")])
        let sender = EventSender.caller(names: [])
        let stamped = try broker.prepare([event("a"), event("b", ttl: "100000"), event("c", ttl: "0"), event("d", ttl: "-3"), event("e", ttl: "x")],
            to: open, in: directory, from: sender, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").get()
        #expect(stamped.map(\.event.type) == ["a", "b"])
        #expect(stamped.map { $0.event.extensions["knativebrokerttl"] } == ["255", "255"])
        #expect(stamped[0].event.extensions["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    }

    @Test func acceptStoresADeliveryForEachMatchingTrigger() async throws {
        let (broker, directory, folder) = try makeBroker()
        defer { try? FileManager.default.removeItem(at: folder) }
        let entry = try #require(directory.brokers[BrokerRef(namespace: "default", name: "default")])
        let alice = EventSender.caller(names: ["https://issuer.example/alice"])
        let result = await broker.accept([event("shop.order"), event("shop.refund")], to: entry, in: directory, from: alice, traceparent: nil)
        #expect(try result.get() == 2)
        let backlog = try await broker.store.backlog()
        #expect(backlog[TriggerRef(namespace: "default", name: "orders")]?.count == 1)
        // A refused sender stores nothing, whatever else the batch holds.
        guard case .failure(.denied) = await broker.accept([event("shop.order")], to: entry, in: directory, from: .caller(names: []), traceparent: nil) else {
            Issue.record("an anonymous sender was accepted")
            return
        }
        #expect(try await broker.store.backlog()[TriggerRef(namespace: "default", name: "orders")]?.count == 1)
    }

    /// Hangs (and fails on the time limit) if a signal is lost.
    @Test(.timeLimit(.minutes(1))) func aWakeupSentBeforeTheWaitIsKeptAndATimeoutKeepsNone() async {
        let wakeup = Wakeup()
        wakeup.signal()
        await wakeup.wait(timeout: .seconds(3600))
        // After a timeout the waiter is gone: a later signal is kept for the next wait.
        await wakeup.wait(timeout: .milliseconds(1))
        wakeup.signal()
        await wakeup.wait(timeout: .seconds(3600))
    }
}
