import Foundation
import GatehouseCore
import GatehouseStore
import Testing

extension ConfigStoreSuites {
@Suite("Token buckets shared on PostgreSQL", .timeLimit(.minutes(1)))
struct SharedRateLimitsTests {
    @Test("Each node adds to its own running counts and reads the others' changes since its last read (oldest first, a page at a time), never its own")
    func exchange() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let stores = try await fixture.openSeveral(2).map { try #require($0 as? any SharedRateLimits) }
            let (a, b) = (stores[0], stores[1])
            #expect(try await a.exchangeRateTakes(node: "node-a", taken: [.init(policy: "p", key: "k", taken: 3), .init(policy: "p", key: "", taken: 1)], since: nil, limit: 100).counts.isEmpty)
            let first = try await b.exchangeRateTakes(node: "node-b", taken: [.init(policy: "p", key: "k", taken: 2)], since: nil, limit: 100)
            #expect(Set(first.counts) == [SharedRateCount(node: "node-a", policy: "p", key: "k", total: 3, last: 3),
                                          SharedRateCount(node: "node-a", policy: "p", key: "", total: 1, last: 1)])
            _ = try await a.exchangeRateTakes(node: "node-a", taken: [.init(policy: "p", key: "k", taken: 4)], since: nil, limit: 100)
            let second = try await b.exchangeRateTakes(node: "node-b", taken: [], since: first.next, limit: 100)
            #expect(second.counts.contains(SharedRateCount(node: "node-a", policy: "p", key: "k", total: 7, last: 4)), "\(second.counts)")
            let fromA = try await a.exchangeRateTakes(node: "node-a", taken: [], since: nil, limit: 100)
            #expect(fromA.counts == [SharedRateCount(node: "node-b", policy: "p", key: "k", total: 2, last: 2)])

            // A page cut short goes on from its last change: nothing is skipped.
            let page = try await b.exchangeRateTakes(node: "node-b", taken: [], since: nil, limit: 1)
            #expect(page.counts.count == 1)
            let rest = try await b.exchangeRateTakes(node: "node-b", taken: [], since: page.next, limit: 100)
            #expect(Set(page.counts + rest.counts).count == 2, "\(page.counts) then \(rest.counts)")
            // Reads start later as time goes on: long-unchanged counts are not read again.
            try fixture.sql("UPDATE gatehouse_rate_take SET updated_at = now() - interval '10 seconds' WHERE node = 'node-a'")
            #expect(try await b.exchangeRateTakes(node: "node-b", taken: [], since: nil, limit: 100).counts.isEmpty)

            // Pruning forgets only counts unchanged for a minute.
            try await a.pruneRateTakes()
            #expect(try fixture.sqlOutput("SELECT count(*) FROM gatehouse_rate_take") == "3")
            try fixture.sql("UPDATE gatehouse_rate_take SET updated_at = now() - interval '2 minutes' WHERE node = 'node-a'")
            try await a.pruneRateTakes()
            #expect(try fixture.sqlOutput("SELECT node FROM gatehouse_rate_take") == "node-b")
        }
    }

    @Test("A count near the top of BIGINT, edited in by hand, starts again, and a key PostgreSQL cannot hold is left out: neither fails the exchange")
    func hostileTotal() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let store = try #require(try await fixture.open() as? any SharedRateLimits)
            _ = try await store.exchangeRateTakes(node: "node-a", taken: [.init(policy: "p", key: "k", taken: 1)], since: nil, limit: 10)
            try fixture.sql("UPDATE gatehouse_rate_take SET total = 9223372036854775800")
            // A key PostgreSQL cannot store (a NUL) goes with it: it is left out, not the batch.
            _ = try await store.exchangeRateTakes(
                node: "node-a", taken: [.init(policy: "p", key: "k", taken: 100), .init(policy: "p", key: "nul\u{0}", taken: 1)], since: nil, limit: 10)
            #expect(try fixture.sqlOutput("SELECT total FROM gatehouse_rate_take") == "100")
        }
    }
}
}
