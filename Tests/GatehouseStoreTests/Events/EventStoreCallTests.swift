import Foundation
import GatehouseCore
import Testing

@testable import GatehouseStore

/// `Prefer: respond-async` calls: stored like events, run once leased, their results kept for a
/// while — on SQLite and on PostgreSQL (`StoreBackend`).
extension ConfigStoreSuites {
@Suite("Event store: async calls", .timeLimit(.minutes(1)))
struct EventStoreCallTests {
    func call(_ id: String, body: [UInt8] = Array("{}".utf8)) -> AsyncCall {
        AsyncCall(
            id: id, method: "POST", host: "resize.default.example.com", path: "/img?x=1",
            headers: [.init(name: "content-type", value: "application/json"), .init(name: "x-a", value: "1"), .init(name: "x-a", value: "2")],
            body: body, callback: "hooks.default.example.com", sourcePrincipal: "spiffe://cluster.local/ns/default/sa/web", acceptedAt: t0)
    }

    @Test("pending → running → done, and gone after keepUntil and prune", arguments: StoreBackend.allCases)
    func lifecycle(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            let stored = call("c1", body: [0, 1, 2, 255])
            #expect(try await store.acceptCall(stored, now: t0) == .accepted)
            #expect(try await store.call("c1", now: t0) == .pending(acceptedAt: t0))
            #expect(try await store.call("unknown", now: t0) == nil)
            #expect(try await store.totals().pending == 1)
            let leased = try await store.leaseCalls(owner: "a", now: t0.addingTimeInterval(1), leaseFor: .seconds(60), limit: 10)
            #expect(leased == [stored])
            #expect(try await store.leaseCalls(owner: "b", now: t0.addingTimeInterval(2), leaseFor: .seconds(60), limit: 10).isEmpty)
            #expect(try await store.call("c1", now: t0.addingTimeInterval(2)) == .running(acceptedAt: t0))
            let result = AsyncCallResult(status: 201, headers: [.init(name: "content-type", value: "text/plain")], body: Array("made".utf8), completedAt: t0.addingTimeInterval(3))
            try await store.complete(call: "c1", owner: "b", result: result, keepUntil: t0.addingTimeInterval(3600))
            #expect(try await store.call("c1", now: t0.addingTimeInterval(3)) == .running(acceptedAt: t0), "only the lease holder completes it")
            try await store.complete(call: "c1", owner: "a", result: result, keepUntil: t0.addingTimeInterval(3600))
            #expect(try await store.call("c1", now: t0.addingTimeInterval(4)) == .done(result))
            #expect(try await store.totals() == PendingTotals(pending: 0, bytes: 0))
            #expect(try await store.leaseCalls(owner: "a", now: t0.addingTimeInterval(4000), leaseFor: .seconds(60), limit: 10).isEmpty)
            #expect(try await store.call("c1", now: t0.addingTimeInterval(3600)) == nil, "expired")
            try await store.prune(now: t0.addingTimeInterval(3600))
            let rows = try await store.rowCount("async_call")
            #expect(rows == 0)
        }
    }

    @Test("Kept results stay within their bounds: the ones that expire first go", arguments: StoreBackend.allCases)
    func resultsBounded(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events(bounds: EventStoreBounds(maxKeptResults: 3))
            for index in 0..<5 {
                _ = try await store.acceptCall(call("c\(index)"), now: t0)
            }
            _ = try await store.leaseCalls(owner: "a", now: t0, leaseFor: .seconds(60), limit: 10)
            for index in 0..<5 {
                let result = AsyncCallResult(status: 200, headers: [], body: Array("r\(index)".utf8), completedAt: t0)
                try await store.complete(call: "c\(index)", owner: "a", result: result, keepUntil: t0.addingTimeInterval(3600 + Double(index)))
            }
            for index in 0..<5 {
                let kept = try await store.call("c\(index)", now: t0) != nil
                #expect(kept == (index >= 2), "c\(index)")
            }
        }
    }

    @Test("A call whose lease expired or was released is pending and leased again", arguments: StoreBackend.allCases)
    func leaseExpiresAndReleases(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.acceptCall(call("c1"), now: t0)
            _ = try await store.acceptCall(call("c2"), now: t0.addingTimeInterval(1))
            #expect(try await store.leaseCalls(owner: "a", now: t0.addingTimeInterval(1), leaseFor: .seconds(10), limit: 1).map(\.id) == ["c1"])
            #expect(try await store.call("c1", now: t0.addingTimeInterval(11)) == .pending(acceptedAt: t0))
            #expect(try await store.leaseCalls(owner: "b", now: t0.addingTimeInterval(11), leaseFor: .seconds(10), limit: 5).map(\.id) == ["c2", "c1"])
            try await store.releaseLeases(owner: "b")
            #expect(try await store.leaseCalls(owner: "c", now: t0.addingTimeInterval(12), leaseFor: .seconds(10), limit: 5).map(\.id) == ["c1", "c2"])
        }
    }

    @Test("A result body past 1 MiB is cut there and says so", arguments: StoreBackend.allCases)
    func resultBounded(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.acceptCall(call("c1"), now: t0)
            _ = try await store.leaseCalls(owner: "a", now: t0, leaseFor: .seconds(10), limit: 1)
            let big = [UInt8](repeating: 0x41, count: PostgresEventStore.maxResultBytes + 10)
            try await store.complete(call: "c1", owner: "a", result: AsyncCallResult(status: 200, headers: [], body: big, completedAt: t0), keepUntil: t0.addingTimeInterval(60))
            guard case .done(let result) = try await store.call("c1", now: t0) else {
                Issue.record("not done")
                return
            }
            #expect(result.body.count == PostgresEventStore.maxResultBytes)
            #expect(result.headers == [.init(name: "gatehouse-result-truncated", value: String(big.count))])
        }
    }

    @Test("A call id already stored is an error for that call only, not for the others committed with it", arguments: StoreBackend.allCases)
    func duplicateIdFailsAlone(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.events()
            _ = try await store.acceptCall(call("c0"), now: t0)
            let outcomes = await withTaskGroup(of: (String, Bool).self) { group in
                for id in ["c0", "c1", "c2", "c0", "c3"] {
                    group.addTask { (id, (try? await store.acceptCall(self.call(id), now: t0)) == .accepted) }
                }
                return await group.reduce(into: [String: [Bool]]()) { $0[$1.0, default: []].append($1.1) }
            }
            #expect(outcomes == ["c0": [false, false], "c1": [true], "c2": [true], "c3": [true]])
            #expect(try await store.leaseCalls(owner: "a", now: t0, leaseFor: .seconds(5), limit: 10).map(\.id).sorted() == ["c0", "c1", "c2", "c3"])
            #expect(try await store.totals().pending == 4)
        }
    }

    @Test("Calls count toward the pending bounds", arguments: StoreBackend.allCases)
    func callsAreBounded(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            var bounds = EventStoreBounds()
            bounds.maxPending = 2
            let store = try await fixture.events(bounds: bounds)
            #expect(try await store.accept([newEvent("e1")], now: t0) == .accepted)
            #expect(try await store.acceptCall(call("c1"), now: t0) == .accepted)
            #expect(try await store.acceptCall(call("c2"), now: t0) == .full)
            #expect(try await store.call("c2", now: t0) == nil)
        }
    }
}
}
