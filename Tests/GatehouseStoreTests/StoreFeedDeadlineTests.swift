import Foundation
import GatehouseCore
import GatehouseStore
import Testing

/// How soon a commit on one instance reaches another instance's change feed: what lets a second
/// node serve what the first applied.
extension ConfigStoreSuites {
@Suite("A change feed between two instances of one store", .timeLimit(.minutes(3)))
struct StoreFeedDeadlineTests {
    /// The promise (docs/store-postgres.md). The test asserts that the batch arrives by the feed
    /// (without it, it never would), bounded generously so a loaded machine does not fail it:
    /// timing belongs to benchmarks. The measured time is printed for the record.
    static let target: Duration = .seconds(1)
    static let allowed: Duration = .seconds(20)

    func created(_ name: String) -> ResourceChange {
        let document = storedDocument(name, "\(name): 1")
        return ResourceChange(
            operation: .created, key: document.key, document: document, generation: 1, expected: .absent, origin: document.origin, diff: "")
    }

    @Test("A commit larger than one read of the history (5,000 rows) arrives whole, and the next one after it", arguments: StoreBackend.allCases)
    func largeBatchArrivesWhole(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let reader = try await fixture.open(feedInterval: .milliseconds(100))
            let writer = try await fixture.open()
            let names = (0..<5_001).map { "bulk-\($0)" }
            try await writer.commit(names.map(created), basedOn: nil, actor: "w", at: Date())
            try await writer.commit([created("after")], basedOn: nil, actor: "w", at: Date())
            let batches = try await within(.seconds(60)) {
                var batches: [StoreBatch] = []
                for try await batch in reader.changes(after: 0) {
                    batches.append(batch)
                    if batches.count == 2 { break }
                }
                return batches
            }
            #expect(batches?.map(\.revision) == [1, 2])
            #expect(batches?.first?.entries.map(\.name) == names, "the big commit, whole and in order")
            #expect(batches?.last?.entries.map(\.name) == ["after"])
        }
    }

    @Test("A batch committed by one instance arrives on the other's feed within a second", arguments: StoreBackend.allCases)
    func arrivesWithinASecond(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let reader = try await fixture.open(feedInterval: .milliseconds(100))
            let writer = try await fixture.open()
            try await writer.commit([created("a")], basedOn: nil, actor: "w", at: Date())
            let took = try await within(.seconds(10)) {
                // The feed is read by a task of its own, as StoreFollower does, so it is waiting
                // (not reading for the first time) when the other instance commits.
                let (arrivals, arrived) = AsyncStream.makeStream(of: StoreBatch.self)
                let reading = Task {
                    for try await batch in reader.changes(after: 0) { arrived.yield(batch) }
                }
                defer { reading.cancel() }
                var feed = arrivals.makeAsyncIterator()
                guard await feed.next()?.revision == 1 else { return Duration?.none }
                let committed = ContinuousClock.now
                try await writer.commit([self.created("b")], basedOn: nil, actor: "w", at: Date())
                guard await feed.next()?.entries.map(\.name) == ["b"] else { return nil }
                return ContinuousClock.now - committed
            }
            let arrival = try #require(took, "the batch did not arrive within 10 s")
            print("\(backend): a batch from another instance arrived \(arrival) after its commit")
            #expect(arrival < Self.allowed, "target \(Self.target), took \(arrival)")
        }
    }
}
}
