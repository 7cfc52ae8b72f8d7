import Foundation
import GatehouseCore
import Testing

@testable import GatehouseStore

/// Accept → lease → settle, with a fixed clock: the at-least-once contract the dispatcher builds on,
/// on SQLite and on PostgreSQL (`StoreBackend`).
extension ConfigStoreSuites {
@Suite("Event store: deliveries", .timeLimit(.minutes(1)))
struct EventStoreDeliveryTests {
    @Test("An event reads back exactly as accepted: attributes, extensions, binary data, absent versus empty data", arguments: StoreBackend.allCases)
    func roundTrip(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            let binary: [UInt8] = [0, 1, 0xFF, 0xFE, 0x80, 10, 13, 0]
            var full = CloudEvent(
                id: "a-1", source: "urn:x", type: "t", dataContentType: "application/octet-stream", dataSchema: "https://s/1",
                subject: "sub/ject", time: "2026-12-07T10:00:00.123Z", extensions: ["traceparent": "00-abc-def-01", "knativebrokerttl": "255", "empty": ""],
                data: binary)
            full.specVersion = "1.0"
            let none = CloudEvent(id: "a-2", source: "urn:x", type: "t")
            let empty = CloudEvent(id: "a-3", source: "urn:x", type: "t", data: [])
            let outcome = try await store.accept(
                [full, none, empty].map { NewEvent(broker: defaultBroker, event: $0, triggers: [ordersTrigger]) }, now: t0)
            #expect(outcome == .accepted)
            let leased = try await store.leaseAll()
            #expect(leased.map(\.event) == [full, none, empty])
            #expect(leased.allSatisfy { $0.phase == .subscriber && $0.attempts == 0 && $0.acceptedAt == t0 })
            #expect(leased.allSatisfy { $0.broker == defaultBroker && $0.trigger == ordersTrigger })
        }
    }

    @Test("One delivery per trigger; the event is kept until the last one is settled", arguments: StoreBackend.allCases)
    func deliveryPerTrigger(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            #expect(try await store.accept([newEvent("e1", triggers: [ordersTrigger, auditTrigger, ordersTrigger])], now: t0) == .accepted)
            #expect(try await store.totals().pending == 2, "a trigger listed twice gets one delivery")
            let orders = try await store.leaseAll([ordersTrigger])
            #expect(orders.map(\.event.id) == ["e1"])
            #expect(try await store.leaseAll([ordersTrigger]).isEmpty, "leased: not due again while the lease runs")
            try await store.settle(orders[0].id, owner: "node-a", outcome: .delivered(status: 200), now: t0)
            let audit = try await store.leaseAll([auditTrigger])
            #expect(audit.map(\.event.id) == ["e1"], "the other trigger's delivery still has its event")
            try await store.settle(audit[0].id, owner: "node-a", outcome: .delivered(status: 202), now: t0)
            #expect(try await store.totals() == PendingTotals(pending: 0, bytes: 0), "the event went with its last delivery")
            #expect(try await store.backlog().isEmpty)
        }
    }

    @Test("Each trigger gets at most its slots, oldest due first; a trigger not listed gets none", arguments: StoreBackend.allCases)
    func slotsPerTrigger(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            // Accepted out of order in time: e4 is the oldest.
            for (index, id) in ["e0", "e1", "e2", "e3"].enumerated() {
                _ = try await store.accept([newEvent(id, triggers: [ordersTrigger, auditTrigger])], now: t0.addingTimeInterval(Double(index + 1)))
            }
            _ = try await store.accept([newEvent("e4", triggers: [ordersTrigger])], now: t0)
            let now = t0.addingTimeInterval(10)
            let first = try await store.lease(owner: "a", now: now, leaseFor: .seconds(30), slots: [ordersTrigger: 2])
            #expect(first.map(\.event.id) == ["e4", "e0"])
            let second = try await store.lease(owner: "a", now: now, leaseFor: .seconds(30), slots: [ordersTrigger: 2, auditTrigger: 0])
            #expect(second.map(\.event.id) == ["e1", "e2"])
            let both = try await store.lease(owner: "a", now: now, leaseFor: .seconds(30), slots: [ordersTrigger: 5, auditTrigger: 1])
            #expect(both.map(\.event.id) == ["e0", "e3"], "audit's oldest, then orders' last, oldest due first across triggers")
            #expect(both.map(\.trigger) == [auditTrigger, ordersTrigger])
            #expect(try await store.lease(owner: "a", now: now, leaseFor: .seconds(30), slots: [:]).isEmpty)
        }
    }

    @Test("An expired lease is due again; the first owner's late settle is then ignored", arguments: StoreBackend.allCases)
    func leaseExpiry(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.accept([newEvent("e1")], now: t0)
            let a = try await store.leaseAll(owner: "a", now: t0, leaseFor: .seconds(30))
            #expect(a.count == 1)
            #expect(try await store.leaseAll(owner: "b", now: t0.addingTimeInterval(29)).isEmpty)
            #expect(try await store.nextDue(for: [ordersTrigger]) == t0.addingTimeInterval(30), "the lease's expiry")
            let b = try await store.leaseAll(owner: "b", now: t0.addingTimeInterval(30))
            #expect(b.map(\.id) == a.map(\.id) && b[0].attempts == 0)
            try await store.settle(a[0].id, owner: "a", outcome: .delivered(status: 200), now: t0.addingTimeInterval(31))
            #expect(try await store.totals().pending == 1, "a settle by a node that lost the lease changes nothing")
            #expect(try await store.deliveryHistory(of: ordersTrigger, limit: 10).delivered == 0)
            try await store.settle(b[0].id, owner: "b", outcome: .delivered(status: 200), now: t0.addingTimeInterval(32))
            #expect(try await store.totals().pending == 0)
            #expect(try await store.deliveryHistory(of: ordersTrigger, limit: 10).delivered == 1)
        }
    }

    @Test("releaseLeases makes what an owner held due at once, for any node", arguments: StoreBackend.allCases)
    func releaseLeases(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.accept([newEvent("e1"), newEvent("e2")], now: t0)
            _ = try await store.leaseAll(owner: "crashed", now: t0.addingTimeInterval(5), leaseFor: .seconds(600))
            try await store.releaseLeases(owner: "other")
            #expect(try await store.leaseAll(owner: "b", now: t0.addingTimeInterval(6)).isEmpty, "another owner's release frees nothing")
            try await store.releaseLeases(owner: "crashed")
            #expect(try await store.nextDue(for: [ordersTrigger]) == t0)
            #expect(try await store.leaseAll(owner: "b", now: t0.addingTimeInterval(6)).map(\.event.id) == ["e1", "e2"])
        }
    }

    @Test("A retry is pending again at its time with one more attempt, and is counted", arguments: StoreBackend.allCases)
    func retry(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.accept([newEvent("e1")], now: t0)
            let first = try await store.leaseAll(now: t0)
            try await store.settle(first[0].id, owner: "node-a", outcome: .retry(at: t0.addingTimeInterval(60), status: 503, reason: "unavailable"), now: t0.addingTimeInterval(1))
            #expect(try await store.nextDue(for: [ordersTrigger]) == t0.addingTimeInterval(60))
            #expect(try await store.nextDue(for: [auditTrigger]) == nil)
            #expect(try await store.leaseAll(now: t0.addingTimeInterval(59)).isEmpty)
            let second = try await store.leaseAll(now: t0.addingTimeInterval(60))
            #expect(second.map(\.attempts) == [1])
            try await store.settle(second[0].id, owner: "node-a", outcome: .retry(at: t0.addingTimeInterval(120), status: nil, reason: "timeout"), now: t0.addingTimeInterval(61))
            #expect(try await store.leaseAll(now: t0.addingTimeInterval(120)).map(\.attempts) == [2])
            let history = try await store.deliveryHistory(of: ordersTrigger, limit: 10)
            #expect(history.retried == 2 && history.delivered == 0 && history.pending == 1)
            #expect(history.recent.map(\.result) == ["retried", "retried"])
            #expect(history.recent.map(\.status) == [nil, 503] && history.recent.map(\.reason) == ["timeout", "unavailable"])
        }
    }

    @Test("Dead-lettered with a sink: recorded, then delivered to the sink with the knativeerror extensions", arguments: StoreBackend.allCases)
    func deadLetterToSink(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.accept([newEvent("e1")], now: t0)
            let leased = try await store.leaseAll(now: t0)
            var failed = leased[0].event
            failed.extensions["knativeerrorcode"] = "500"
            failed.extensions["knativeerrordest"] = "Function default/orders"
            failed.extensions["knativeerrordata"] = "b29wcw=="
            let at = t0.addingTimeInterval(5)
            try await store.settle(leased[0].id, owner: "node-a", outcome: .deadLetter(event: failed, status: 500, reason: "retries exhausted", toSink: true), now: at)
            let letters = try await store.deadLetters(broker: defaultBroker, limit: 10)
            #expect(letters == [DeadLetter(at: at, broker: defaultBroker, trigger: ordersTrigger, event: failed, status: 500, reason: "retries exhausted", sentToSink: true)])
            let sink = try await store.leaseAll(now: at)
            #expect(sink.count == 1)
            #expect(sink[0].phase == .deadLetter && sink[0].attempts == 0 && sink[0].event == failed && sink[0].acceptedAt == t0)
            try await store.settle(sink[0].id, owner: "node-a", outcome: .delivered(status: 200), now: at)
            #expect(try await store.totals() == PendingTotals(pending: 0, bytes: 0))
            let history = try await store.deliveryHistory(of: ordersTrigger, limit: 10)
            #expect(history.delivered == 0 && history.deadLettered == 1, "the sink's delivery is not a delivery to the subscriber")
            #expect(history.recent.map(\.result) == ["delivered", "dead-lettered"])
            #expect(history.recent.first?.reason == "to the dead-letter sink")
        }
    }

    @Test("Dead-lettered without a sink: recorded and finished; a dead letter in the sink phase never loops", arguments: StoreBackend.allCases)
    func deadLetterWithoutSink(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.accept([newEvent("e1"), newEvent("e2")], now: t0)
            let leased = try await store.leaseAll(now: t0)
            try await store.settle(leased[0].id, owner: "node-a", outcome: .deadLetter(event: leased[0].event, status: 400, reason: "not retried", toSink: false), now: t0)
            try await store.settle(leased[1].id, owner: "node-a", outcome: .deadLetter(event: leased[1].event, status: 500, reason: "x", toSink: true), now: t0)
            let sink = try await store.leaseAll(now: t0)
            #expect(sink.map(\.event.id) == ["e2"])
            try await store.settle(sink[0].id, owner: "node-a", outcome: .deadLetter(event: sink[0].event, status: 500, reason: "sink failed too", toSink: true), now: t0)
            #expect(try await store.leaseAll(now: t0).isEmpty)
            #expect(try await store.totals().pending == 0)
            let letters = try await store.deadLetters(broker: nil, limit: 10)
            #expect(letters.map(\.event.id) == ["e2", "e2", "e1"])
            #expect(letters.map(\.sentToSink) == [false, true, false])
            #expect(try await store.deadLetters(broker: BrokerRef(namespace: "default", name: "other"), limit: 10).isEmpty)
        }
    }

    @Test("Dropped: gone without a dead letter or a count, with its reason in the outcomes", arguments: StoreBackend.allCases)
    func dropped(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.accept([newEvent("e1")], now: t0)
            let leased = try await store.leaseAll(now: t0)
            try await store.settle(leased[0].id, owner: "node-a", outcome: .dropped(reason: "trigger deleted"), now: t0)
            #expect(try await store.totals() == PendingTotals(pending: 0, bytes: 0))
            #expect(try await store.deadLetters(broker: nil, limit: 10).isEmpty)
            let history = try await store.deliveryHistory(of: ordersTrigger, limit: 10)
            #expect(history.delivered == 0 && history.retried == 0 && history.deadLettered == 0)
            #expect(history.recent.map(\.result) == ["dropped"] && history.recent[0].reason == "trigger deleted")
        }
    }

    @Test("Concurrent settles (batched into shared transactions) are all applied", arguments: StoreBackend.allCases)
    func concurrentSettles(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.accept((0..<100).map { newEvent("e\($0)") }, now: t0)
            let leased = try await store.leaseAll(now: t0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, delivery) in leased.enumerated() {
                    let outcome: DeliveryOutcome = index.isMultiple(of: 2)
                        ? .delivered(status: 200) : .retry(at: t0.addingTimeInterval(60), status: 503, reason: "busy")
                    group.addTask { try await store.settle(delivery.id, owner: "node-a", outcome: outcome, now: t0) }
                }
                // A settle by the wrong owner in the same batches changes nothing.
                group.addTask { try await store.settle(leased[1].id, owner: "node-b", outcome: .delivered(status: 200), now: t0) }
                try await group.waitForAll()
            }
            let history = try await store.deliveryHistory(of: ordersTrigger, limit: 10)
            #expect(history.delivered == 50 && history.retried == 50 && history.pending == 50)
            #expect(try await store.leaseAll(now: t0.addingTimeInterval(60)).map(\.attempts) == Array(repeating: 1, count: 50))
        }
    }

    @Test("describe's counts are kept; its outcomes are the newest few, bounded before and after prune", arguments: StoreBackend.allCases)
    func boundedOutcomes(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            var bounds = EventStoreBounds()
            bounds.outcomesPerTrigger = 3
            let store = try await fixture.events(bounds: bounds)
            _ = try await store.accept((0..<5).map { newEvent("e\($0)") }, now: t0)
            for (index, delivery) in try await store.leaseAll(now: t0).enumerated() {
                try await store.settle(delivery.id, owner: "node-a", outcome: .delivered(status: 200), now: t0.addingTimeInterval(Double(index)))
            }
            let history = try await store.deliveryHistory(of: ordersTrigger, limit: 50)
            #expect(history.delivered == 5 && history.pending == 0)
            #expect(history.recent.map(\.eventID) == ["e4", "e3", "e2"])
            #expect(history.recent[0].at == t0.addingTimeInterval(4) && history.recent[0].eventType == "com.example.order.created")
            try await store.prune(now: t0)
            // A reader with a larger bound sees what is stored: only the newest three were kept.
            var wide = EventStoreBounds()
            wide.outcomesPerTrigger = 100
            let reader = try await fixture.events(bounds: wide)
            #expect(try await reader.deliveryHistory(of: ordersTrigger, limit: 100).recent.map(\.eventID) == ["e4", "e3", "e2"])
            #expect(try await reader.deliveryHistory(of: ordersTrigger, limit: 100).delivered == 5)
        }
    }

    @Test("Dead letters are trimmed to their bound, oldest first", arguments: StoreBackend.allCases)
    func boundedDeadLetters(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            var bounds = EventStoreBounds()
            bounds.maxDeadLetters = 2
            let store = try await fixture.events(bounds: bounds)
            _ = try await store.accept((0..<4).map { newEvent("e\($0)") }, now: t0)
            for delivery in try await store.leaseAll(now: t0) {
                try await store.settle(delivery.id, owner: "node-a", outcome: .deadLetter(event: delivery.event, status: 500, reason: "x", toSink: false), now: t0)
            }
            try await store.prune(now: t0)
            #expect(try await store.deadLetters(broker: nil, limit: 10).map(\.event.id) == ["e3", "e2"])
        }
    }

    @Test("The backlog counts each trigger's undelivered deliveries, leased or not, with the oldest's acceptance time", arguments: StoreBackend.allCases)
    func backlog(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.accept([newEvent("e1", triggers: [ordersTrigger, auditTrigger])], now: t0.addingTimeInterval(10))
            _ = try await store.accept([newEvent("e2", triggers: [ordersTrigger])], now: t0.addingTimeInterval(5))
            _ = try await store.lease(owner: "a", now: t0.addingTimeInterval(20), leaseFor: .seconds(30), slots: [ordersTrigger: 1])
            let backlog = try await store.backlog()
            #expect(backlog == [
                ordersTrigger: Backlog(count: 2, oldestAcceptedAt: t0.addingTimeInterval(5)),
                auditTrigger: Backlog(count: 1, oldestAcceptedAt: t0.addingTimeInterval(10)),
            ])
        }
    }

    @Test("Dropping the deliveries of deleted triggers frees their room and resets their counts", arguments: StoreBackend.allCases)
    func dropDeliveries(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.accept([newEvent("e1", triggers: [ordersTrigger, auditTrigger]), newEvent("e2", triggers: [auditTrigger])], now: t0)
            let audit = try await store.lease(owner: "a", now: t0, leaseFor: .seconds(30), slots: [auditTrigger: 1])
            try await store.settle(audit[0].id, owner: "a", outcome: .delivered(status: 200), now: t0)
            #expect(try await store.dropDeliveries(keeping: [ordersTrigger]) == 1)
            #expect(try await store.backlog().keys.sorted { $0.name < $1.name } == [ordersTrigger])
            let bytes = EventRowCoding.encode(orderEvent("e1")).count
            #expect(try await store.totals() == PendingTotals(pending: 1, bytes: bytes), "e2 went with audit's delivery, e1 stays for orders")
            #expect(try await store.deliveryHistory(of: auditTrigger, limit: 10) == DeliveryHistory(delivered: 0, retried: 0, deadLettered: 0, pending: 0, recent: []))
            #expect(try await store.dropDeliveries(keeping: []) == 1)
            #expect(try await store.totals() == PendingTotals(pending: 0, bytes: 0))
        }
    }

    @Test("Dropping named triggers (what a node of a shared queue does) leaves every other trigger's deliveries, known or not", arguments: StoreBackend.allCases)
    func dropNamedTriggers(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            let unknown = TriggerRef(namespace: "default", name: "created-on-another-node")
            _ = try await store.accept([newEvent("e1", triggers: [ordersTrigger, auditTrigger]), newEvent("e2", triggers: [unknown])], now: t0)
            #expect(try await store.dropDeliveries(of: []) == 0, "nothing named, nothing dropped")
            #expect(try await store.dropDeliveries(of: [auditTrigger]) == 1)
            #expect(Set(try await store.backlog().keys) == [ordersTrigger, unknown])
            #expect(try await store.totals().pending == 2)
            #expect(store.sharedAcrossNodes == (backend == .postgres))
        }
    }

    @Test("A dead letter's record keeps the start of the data; the dead-letter sink's delivery keeps it whole", arguments: StoreBackend.allCases)
    func deadLetterRecordBounded(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events(bounds: EventStoreBounds(deadLetterDataBytes: 16))
            let big = Array(repeating: UInt8(ascii: "x"), count: 1000)
            #expect(try await store.accept([newEvent("e1", data: big)], now: t0) == .accepted)
            let leased = try await store.lease(owner: "a", now: t0, leaseFor: .seconds(60), slots: [ordersTrigger: 1])
            let delivery = try #require(leased.first)
            try await store.settle(delivery.id, owner: "a", outcome: .deadLetter(event: delivery.event, status: 500, reason: "no", toSink: true), now: t0)
            let letter = try #require(try await store.deadLetters(broker: nil, limit: 10).first)
            #expect(letter.event.data?.count == 16)
            let again = try await store.lease(owner: "a", now: t0.addingTimeInterval(1), leaseFor: .seconds(60), slots: [ordersTrigger: 1])
            #expect(again.first?.phase == .deadLetter)
            #expect(again.first?.event.data?.count == 1000)
        }
    }
}
}
