import Foundation
import GatehouseCore
import GatehouseStore
import Testing

extension ConfigStoreSuites {
@Suite("Token buckets shared on PostgreSQL", .timeLimit(.minutes(1)))
struct SharedRateLimitsTests {
    @Test("Each node adds to its own running counts and reads the others' recent ones, never its own")
    func exchange() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let stores = try await fixture.openSeveral(2).map { try #require($0 as? any SharedRateLimits) }
            let (a, b) = (stores[0], stores[1])
            #expect(try await a.exchangeRateTakes(node: "node-a", taken: [.init(policy: "p", key: "k", taken: 3), .init(policy: "p", key: "", taken: 1)], limit: 100).isEmpty)
            let seen = try await b.exchangeRateTakes(node: "node-b", taken: [.init(policy: "p", key: "k", taken: 2)], limit: 100)
            #expect(Set(seen) == [SharedRateCount(node: "node-a", policy: "p", key: "k", total: 3, last: 3),
                                  SharedRateCount(node: "node-a", policy: "p", key: "", total: 1, last: 1)])
            _ = try await a.exchangeRateTakes(node: "node-a", taken: [.init(policy: "p", key: "k", taken: 4)], limit: 100)
            let again = try await b.exchangeRateTakes(node: "node-b", taken: [], limit: 100)
            #expect(again.contains(SharedRateCount(node: "node-a", policy: "p", key: "k", total: 7, last: 4)), "\(again)")
            let fromA = try await a.exchangeRateTakes(node: "node-a", taken: [], limit: 100)
            #expect(fromA == [SharedRateCount(node: "node-b", policy: "p", key: "k", total: 2, last: 2)])
            #expect(try await b.exchangeRateTakes(node: "node-b", taken: [], limit: 1).count == 1, "at most limit")
            // Pruning forgets only counts unchanged for a minute.
            try await a.pruneRateTakes()
            #expect(try await b.exchangeRateTakes(node: "node-b", taken: [], limit: 100).count == 2)
            try fixture.sql("UPDATE gatehouse_rate_take SET updated_at = now() - interval '2 minutes' WHERE node = 'node-a'")
            try await a.pruneRateTakes()
            #expect(try fixture.sqlOutput("SELECT node FROM gatehouse_rate_take") == "node-b")
        }
    }
}
}
