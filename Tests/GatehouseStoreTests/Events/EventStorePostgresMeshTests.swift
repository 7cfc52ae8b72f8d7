import Foundation
import GatehouseCore
import Testing

@testable import GatehouseStore

/// The event queue several nodes share on PostgreSQL: each store here is a node (its own config
/// store, its own connections) on one database.
extension ConfigStoreSuites {
@Suite("Event store: a mesh of nodes on PostgreSQL", .timeLimit(.minutes(2)))
struct EventStorePostgresMeshTests {
    @Test("Two nodes leasing at once from 200 due deliveries never get the same one, and together get them all")
    func concurrentLeasesAreDisjoint() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let a = try await fixture.events(), b = try await fixture.events()
            _ = try await a.accept((0..<200).map { newEvent("e\($0)") }, now: t0)
            /// Leases a few at a time until a round finds nothing, as a dispatcher does.
            func drain(_ store: any EventStore, owner: String) async throws -> [DeliveryID] {
                var taken: [DeliveryID] = []
                while true {
                    let leased = try await store.lease(owner: owner, now: t0, leaseFor: .seconds(60), slots: [ordersTrigger: 7])
                    if leased.isEmpty { return taken }
                    taken += leased.map(\.id)
                }
            }
            async let fromA = drain(a, owner: "node-a")
            async let fromB = drain(b, owner: "node-b")
            let (leasedByA, leasedByB) = try await (fromA, fromB)
            #expect(Set(leasedByA).isDisjoint(with: leasedByB), "a delivery leased by both nodes")
            #expect(leasedByA.count + leasedByB.count == 200 && Set(leasedByA + leasedByB).count == 200)
            #expect(!leasedByA.isEmpty && !leasedByB.isEmpty, "both nodes took part (A \(leasedByA.count), B \(leasedByB.count))")
        }
    }

    @Test("Two nodes leasing calls at once never run the same one")
    func concurrentCallLeasesAreDisjoint() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let a = try await fixture.events(), b = try await fixture.events()
            for index in 0..<60 {
                let call = AsyncCall(
                    id: "c\(index)", method: "POST", host: "h", path: "/", headers: [], body: [], callback: nil, sourcePrincipal: nil, acceptedAt: t0)
                _ = try await a.acceptCall(call, now: t0)
            }
            func drain(_ store: any EventStore, owner: String) async throws -> [String] {
                var taken: [String] = []
                while true {
                    let leased = try await store.leaseCalls(owner: owner, now: t0, leaseFor: .seconds(60), limit: 5)
                    if leased.isEmpty { return taken }
                    taken += leased.map(\.id)
                }
            }
            async let fromA = drain(a, owner: "node-a")
            async let fromB = drain(b, owner: "node-b")
            let (byA, byB) = try await (fromA, fromB)
            #expect(Set(byA).isDisjoint(with: byB) && Set(byA + byB).count == 60 && byA.count + byB.count == 60)
        }
    }

    @Test("A node that dies holding leases: the other node delivers them once they expire, and the dead owner's late settle is ignored")
    func deadNodesLeasesAreTakenOver() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let a = try await fixture.events(), b = try await fixture.events()
            _ = try await b.accept([newEvent("e1"), newEvent("e2")], now: t0)
            let held = try await a.leaseAll(owner: "node-a", now: t0, leaseFor: .seconds(30))
            #expect(held.map(\.event.id) == ["e1", "e2"])
            // node-a is now silent: never settles, never releases.
            #expect(try await b.leaseAll(owner: "node-b", now: t0.addingTimeInterval(29)).isEmpty, "not while the lease runs")
            #expect(try await b.nextDue(for: [ordersTrigger]) == t0.addingTimeInterval(30), "the other node knows when to look again")
            let taken = try await b.leaseAll(owner: "node-b", now: t0.addingTimeInterval(30))
            #expect(taken.map(\.id) == held.map(\.id))
            try await a.settle(held[0].id, owner: "node-a", outcome: .delivered(status: 200), now: t0.addingTimeInterval(31))
            try await a.settle(held[1].id, owner: "node-a", outcome: .retry(at: t0.addingTimeInterval(99), status: 503, reason: "late"), now: t0.addingTimeInterval(31))
            #expect(try await b.totals().pending == 2, "the late settles changed nothing")
            #expect(try await b.deliveryHistory(of: ordersTrigger, limit: 10).recent.isEmpty)
            for delivery in taken { try await b.settle(delivery.id, owner: "node-b", outcome: .delivered(status: 200), now: t0.addingTimeInterval(32)) }
            #expect(try await a.totals() == PendingTotals(pending: 0, bytes: 0))
            #expect(try await a.deliveryHistory(of: ordersTrigger, limit: 10).delivered == 2)
        }
    }

    @Test("The pending bounds hold for the mesh: two nodes accepting at once store no more than maxPending between them")
    func boundsAreShared() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            var bounds = EventStoreBounds()
            bounds.maxPending = 25
            let a = try await fixture.events(bounds: bounds), b = try await fixture.events(bounds: bounds)
            let accepted = try await withThrowingTaskGroup(of: AcceptOutcome.self) { group in
                for index in 0..<40 {
                    let store = index.isMultiple(of: 2) ? a : b
                    group.addTask { try await store.accept([newEvent("e\(index)")], now: t0) }
                }
                return try await group.reduce(0) { $0 + ($1 == .accepted ? 1 : 0) }
            }
            #expect(accepted == 25)
            #expect(try await a.totals().pending == 25)
            #expect(try await b.leaseAll(owner: "node-b").count == 25)
            #expect(try await a.accept([newEvent("late")], now: t0) == .full)
        }
    }

    @Test("Two nodes settling the last deliveries of one event at once: the event goes, and the totals reach zero")
    func eventRemovedOnceBothSettle() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let a = try await fixture.events(), b = try await fixture.events()
            for round in 0..<20 {
                _ = try await a.accept([newEvent("e\(round)", triggers: [ordersTrigger, auditTrigger])], now: t0)
                let orders = try await a.leaseAll([ordersTrigger], owner: "node-a")
                let audit = try await b.leaseAll([auditTrigger], owner: "node-b")
                async let first: Void = a.settle(orders[0].id, owner: "node-a", outcome: .delivered(status: 200), now: t0)
                async let second: Void = b.settle(audit[0].id, owner: "node-b", outcome: .delivered(status: 200), now: t0)
                _ = try await (first, second)
            }
            #expect(try await a.totals() == PendingTotals(pending: 0, bytes: 0))
            #expect(try await a.rowCount("event") == 0, "no event outlived its deliveries")
        }
    }

    @Test("Totals edited to the top of BIGINT refuse accepts instead of trapping; a prune counts them again from the rows")
    func hostileTotals() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let store = try await fixture.events()
            _ = try await store.accept([newEvent("e1")], now: t0)
            try fixture.sql("UPDATE gatehouse_event_totals SET pending = 9223372036854775807, bytes = 9223372036854775807")
            #expect(try await store.accept([newEvent("e2")], now: t0) == .full)
            try fixture.sql("DELETE FROM gatehouse_event_totals")
            try await store.prune(now: t0)
            #expect(try await store.totals().pending == 1, "counted from the rows, the row made again")
            #expect(try await store.accept([newEvent("e3")], now: t0) == .accepted)
            #expect(try await store.totals().pending == 2)
        }
    }

    @Test("An undecodable event is taken out of the queue and reported; the others are delivered")
    func undecodableEvent() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let problems = ProblemLog()
            let store = try await fixture.events(problems: problems)
            _ = try await store.accept([newEvent("e1"), newEvent("e2"), newEvent("e3")], now: t0)
            try fixture.sql(#"UPDATE gatehouse_event SET body = '\x01ff' WHERE event_id = 'e1'; UPDATE gatehouse_event SET body = '\x07' WHERE event_id = 'e3'"#)
            let leased = try await store.leaseAll()
            #expect(leased.map(\.event.id) == ["e2"])
            #expect(problems.all.count == 2 && problems.all.allSatisfy { $0.contains("could not be read") }, "\(problems.all)")
            try await store.settle(leased[0].id, owner: "node-a", outcome: .delivered(status: 200), now: t0)
            #expect(try await store.leaseAll(now: t0.addingTimeInterval(3600)).isEmpty, "the bad rows do not come back")
            let history = try await store.deliveryHistory(of: ordersTrigger, limit: 10)
            #expect(history.recent.map(\.result) == ["delivered", "dropped", "dropped"])
            #expect(try await store.totals() == PendingTotals(pending: 0, bytes: 0))
        }
    }
}
}
