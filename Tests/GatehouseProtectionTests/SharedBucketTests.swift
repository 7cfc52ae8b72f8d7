import GatehouseCore
import Testing

@testable import GatehouseProtection

@Suite("Token buckets shared across nodes")
struct SharedBucketTests {
    @Test("A shared bucket counts what it gave out per key until drained; an unshared one counts nothing")
    func drained() {
        let shared = TokenBuckets(.init(maxTokens: 3, tokensPerFill: 1, fillInterval: .seconds(1)), shared: true)
        let start = ContinuousClock.now
        for _ in 0..<5 { _ = shared.take("a", now: start) }
        _ = shared.take("b", now: start)
        #expect(shared.drainTaken() == ["a": 3, "b": 1], "refusals took nothing")
        #expect(shared.drainTaken().isEmpty)
        let alone = TokenBuckets(.init(maxTokens: 3, tokensPerFill: 1, fillInterval: .seconds(1)))
        _ = alone.take("a", now: start)
        #expect(alone.drainTaken().isEmpty)
    }

    @Test("Tokens other nodes took are subtracted, into a debt of at most maxTokens that fills pay back first")
    func absorbed() {
        let buckets = TokenBuckets(.init(maxTokens: 4, tokensPerFill: 2, fillInterval: .seconds(1)), shared: true)
        let start = ContinuousClock.now
        buckets.absorb("a", taken: 3, now: start)
        #expect(buckets.take("a", now: start).allowed && !buckets.take("a", now: start).allowed, "a full bucket less the other node's 3")
        buckets.absorb("a", taken: 100, now: start)
        #expect(buckets.peek("a", now: start).remaining == 0)
        // -4 after the debt's cap: two fills (4 tokens) pay it back, the third gives 2.
        #expect(!buckets.take("a", now: start + .seconds(2)).allowed)
        let third = buckets.take("a", now: start + .seconds(3))
        #expect(third.allowed && third.remaining == 1)
        buckets.absorb("b", taken: 0, now: start)
        #expect(buckets.peek("b", now: start).remaining == 4, "nothing taken, nothing changed")
    }

    @Test("The ledger charges a row's growth since it was last read, and only the latest addition of a row it never saw or that was made again")
    func ledger() {
        var ledger = SharedTakeLedger()
        let row = SharedTakeLedger.Row(node: "node-b", policy: "p", key: "k")
        let key = SharedTakeLedger.Taken(policy: "p", key: "k")
        #expect(ledger.news([(row, 1000, 7)]) == [key: 7], "first sight: the latest addition, not the hours before")
        #expect(ledger.news([(row, 1010, 4)]) == [key: 10], "two additions between reads: both")
        #expect(ledger.news([(row, 1010, 4)]).isEmpty, "unchanged")
        #expect(ledger.news([]).isEmpty)
        #expect(ledger.news([(row, 1015, 5)]) == [key: 5], "fell out of the window, seen again: its latest addition")
        #expect(ledger.news([(row, 3, 3)]) == [key: 3], "made again after a prune")
        let other = SharedTakeLedger.Row(node: "node-c", policy: "p", key: "k")
        #expect(ledger.news([(row, 5, 2), (other, 6, 6)]) == [key: 8], "two nodes' takes of one key add up")
    }
}
