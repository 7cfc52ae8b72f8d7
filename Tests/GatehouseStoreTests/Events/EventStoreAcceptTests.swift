import Foundation
import GatehouseCore
import Testing

@testable import GatehouseStore

/// Accepting: group commit, and the bounds that refuse work rather than grow without limit; each
/// behaviour on SQLite and on PostgreSQL (`StoreBackend`).
extension ConfigStoreSuites {
@Suite("Event store: accepting", .timeLimit(.minutes(1)))
struct EventStoreAcceptTests {
    /// `count` accepts at once, one event each; their outcomes.
    func acceptConcurrently(_ store: any EventStore, count: Int, prefix: String = "e") async throws -> [AcceptOutcome] {
        try await withThrowingTaskGroup(of: AcceptOutcome.self) { group in
            for index in 0..<count {
                group.addTask { try await store.accept([newEvent("\(prefix)\(index)")], now: t0) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test("Concurrent accepts share commits, and every one of them is stored", arguments: StoreBackend.allCases)
    func groupCommitBatches(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events(groupCommit: true)
            let outcomes = try await acceptConcurrently(store, count: 200)
            #expect(outcomes.allSatisfy { $0 == .accepted })
            let commits = store.durableCommitCount
            #expect(commits >= 1 && commits < 200, "200 accepts in \(commits) transactions")
            // Read back by another instance, as a restarted process would.
            let reopened = try await fixture.events()
            let ids = Set(try await reopened.leaseAll().map(\.event.id))
            #expect(ids == Set((0..<200).map { "e\($0)" }))
        }
    }

    @Test("Without group commit each accept is its own transaction (SQLite)", arguments: [StoreBackend.sqlite])
    func oneTransactionEach(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events(groupCommit: false)
            let outcomes = try await acceptConcurrently(store, count: 40)
            #expect(outcomes.allSatisfy { $0 == .accepted })
            #expect(store.durableCommitCount == 40)
            #expect(try await store.leaseAll().count == 40)
        }
    }

    @Test("Past maxPending an accept is refused whole and stores nothing; settling makes room again", arguments: StoreBackend.allCases)
    func maxPending(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            var bounds = EventStoreBounds()
            bounds.maxPending = 3
            let store = try await fixture.events(bounds: bounds)
            #expect(try await store.accept([newEvent("e1", triggers: [ordersTrigger, auditTrigger])], now: t0) == .accepted)
            #expect(try await store.accept([newEvent("e2", triggers: [ordersTrigger]), newEvent("e3", triggers: [auditTrigger])], now: t0) == .full)
            #expect(try await store.backlog().values.map(\.count).reduce(0, +) == 2, "neither of the refused batch's events was stored")
            #expect(try await store.accept([newEvent("e4")], now: t0) == .accepted)
            #expect(try await store.accept([newEvent("e5")], now: t0) == .full)
            let leased = try await store.leaseAll([ordersTrigger])
            try await store.settle(leased[0].id, owner: "node-a", outcome: .delivered(status: 200), now: t0)
            #expect(try await store.accept([newEvent("e6")], now: t0) == .accepted)
            #expect(Set(try await store.leaseAll([ordersTrigger]).map(\.event.id)) == ["e6"])
        }
    }

    @Test("Past maxPendingBytes an accept is refused; an event with no trigger is acknowledged and not stored", arguments: StoreBackend.allCases)
    func maxPendingBytes(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let size = EventRowCoding.encode(orderEvent("e1", data: Array(repeating: 7, count: 1000))).count
            var bounds = EventStoreBounds()
            bounds.maxPendingBytes = size * 2
            let store = try await fixture.events(bounds: bounds)
            let big = { (id: String) in newEvent(id, triggers: [ordersTrigger, auditTrigger], data: Array(repeating: 7, count: 1000)) }
            #expect(try await store.accept([big("e1")], now: t0) == .accepted)
            #expect(try await store.totals() == PendingTotals(pending: 2, bytes: size), "an event's body counts once, however many triggers")
            #expect(try await store.accept([big("e2")], now: t0) == .accepted)
            #expect(try await store.accept([big("e3")], now: t0) == .full)
            #expect(try await store.accept([newEvent("e4", triggers: [])], now: t0) == .accepted)
            #expect(try await store.totals() == PendingTotals(pending: 4, bytes: size * 2))
            #expect(try await store.leaseAll([ordersTrigger]).map(\.event.id) == ["e1", "e2"])
        }
    }

    @Test("Concurrent accepts within one commit are checked against each other", arguments: StoreBackend.allCases)
    func boundsInsideABatch(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            var bounds = EventStoreBounds()
            bounds.maxPending = 10
            let store = try await fixture.events(bounds: bounds)
            let outcomes = try await acceptConcurrently(store, count: 30)
            #expect(outcomes.filter { $0 == .accepted }.count == 10)
            #expect(try await store.leaseAll().count == 10)
            #expect(try await store.totals().pending == 10)
        }
    }

    @Test("Two stores on one file or database share the bounds: one sees the room the other's deliveries made", arguments: StoreBackend.allCases)
    func boundsAcrossProcesses(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            var bounds = EventStoreBounds()
            bounds.maxPending = 2
            let ingest = try await fixture.events(bounds: bounds)
            let dispatcher = try await fixture.events(bounds: bounds)
            #expect(try await ingest.accept([newEvent("e1"), newEvent("e2")], now: t0) == .accepted)
            #expect(try await dispatcher.accept([newEvent("e3")], now: t0) == .full)
            #expect(try await ingest.accept([newEvent("e3")], now: t0) == .full)
            for delivery in try await dispatcher.leaseAll() {
                try await dispatcher.settle(delivery.id, owner: "node-a", outcome: .delivered(status: 200), now: t0)
            }
            // `ingest` last saw the store full; it must not go on refusing from that stale count.
            #expect(try await ingest.accept([newEvent("e4"), newEvent("e5")], now: t0) == .accepted)
        }
    }
}
}
