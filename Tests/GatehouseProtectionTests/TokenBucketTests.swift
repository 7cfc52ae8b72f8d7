import GatehouseCore
import Testing

@testable import GatehouseProtection

@Suite("Token buckets and in-flight counts")
struct TokenBucketTests {
    @Test("Starts full; tokensPerFill return every fillInterval, never past maxTokens; keys are separate")
    func envoySemantics() {
        let buckets = TokenBuckets(.init(maxTokens: 4, tokensPerFill: 2, fillInterval: .seconds(1)))
        let start = ContinuousClock.now
        let taken = (0..<5).map { _ in buckets.take("a", now: start).allowed }
        #expect(taken == [true, true, true, true, false])
        #expect(buckets.take("b", now: start).allowed, "another caller has its own bucket")
        #expect(buckets.take("a", now: start + .milliseconds(999)).allowed == false)
        let refilled = (0..<3).map { _ in buckets.take("a", now: start + .milliseconds(1000)).allowed }
        #expect(refilled == [true, true, false], "two tokens per fill")
        let later = buckets.take("a", now: start + .seconds(60))
        #expect(later.allowed && later.remaining == 3, "capped at maxTokens")
        #expect(buckets.take("a", now: start + .milliseconds(60_250)).resetIn == .milliseconds(750))
    }

    @Test("In-flight counts refuse past the limit per key and give places back")
    func inFlight() {
        let counts = InFlightCounts(limit: 2)
        #expect(counts.enter("a") && counts.enter("a") && !counts.enter("a"))
        #expect(counts.enter("b"))
        counts.leave("a")
        #expect(counts.enter("a"))
    }
}
