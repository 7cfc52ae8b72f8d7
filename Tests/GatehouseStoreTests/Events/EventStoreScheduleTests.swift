import Foundation
import GatehouseCore
import GRDB
import Testing

@testable import GatehouseStore

/// A PingSource fires once per scheduled minute, whoever else holds the store, across restarts —
/// on SQLite and PostgreSQL (`StoreBackend`).
extension ConfigStoreSuites {
@Suite("Event store: schedules", .timeLimit(.minutes(1)))
struct EventStoreScheduleTests {
    let schedule = "default/every-minute"
    let minute: Int64 = 30_000_000

    func tick(_ id: String) -> [NewEvent] { [newEvent(id)] }

    @Test("Two stores on one file or database racing for a minute: exactly one fires it, and its event is stored once", arguments: StoreBackend.allCases)
    func onceAcrossInstances(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let a = try await fixture.events(), b = try await fixture.events()
            for round in Int64(0)..<20 {
                async let first = a.fire(schedule: schedule, minute: minute + round, events: tick("a\(round)"), now: t0)
                async let second = b.fire(schedule: schedule, minute: minute + round, events: tick("b\(round)"), now: t0)
                let fired = try await [first, second]
                #expect(fired.filter { $0 }.count == 1, "minute \(round): \(fired)")
            }
            #expect(try await a.leaseAll().count == 20)
            #expect(try await b.lastFired(schedule: schedule) == minute + 19)
        }
    }

    @Test("A restart does not fire a minute again; other schedules and minutes are separate", arguments: StoreBackend.allCases)
    func onceAcrossReopen(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            do {
                let store = try await fixture.events()
                #expect(try await store.lastFired(schedule: schedule) == nil)
                #expect(try await store.fire(schedule: schedule, minute: minute, events: tick("e1"), now: t0))
            }
            let reopened = try await fixture.events()
            #expect(try await reopened.lastFired(schedule: schedule) == minute)
            #expect(try await !reopened.fire(schedule: schedule, minute: minute, events: tick("e2"), now: t0))
            #expect(try await reopened.fire(schedule: "default/other", minute: minute, events: tick("e3"), now: t0))
            #expect(try await reopened.fire(schedule: schedule, minute: minute + 1, events: tick("e4"), now: t0))
            #expect(try await reopened.leaseAll().map(\.event.id) == ["e1", "e3", "e4"])
        }
    }

    @Test("Only the newest marks are kept, and a minute older than all of them counts as fired", arguments: StoreBackend.allCases)
    func marksArePruned(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            let count = Int64(SQLiteEventStore.firedMinutesKept + 6)
            for offset in Int64(0)..<count {
                #expect(try await store.fire(schedule: schedule, minute: minute + offset, events: [], now: t0))
            }
            let kept = try await store.rowCount("schedule_fired")
            #expect(kept == SQLiteEventStore.firedMinutesKept)
            #expect(try await !store.fire(schedule: schedule, minute: minute, events: tick("late"), now: t0), "its mark was pruned; it still fired once")
            #expect(try await store.lastFired(schedule: schedule) == minute + count - 1)
            #expect(try await store.leaseAll().isEmpty)
        }
    }
}
}
