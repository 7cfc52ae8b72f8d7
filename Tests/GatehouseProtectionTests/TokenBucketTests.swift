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

@Suite("Hop limit")
struct HopLimitTests {
    struct Headers: RequestHeaders {
        let hops: String?
        func first(_ name: String) -> String? { hops }
        func joined(_ name: String) -> String? { hops }
    }

    func verdict(_ hops: String?) -> (refused: Bool, forwarded: String?) {
        var record = RequestRecord(requestId: "r", startWallNanos: 0, start: .now, method: "GET", path: "/", httpProtocol: "HTTP/1.1", authority: "a")
        if case .reject = EnforceHopLimit(maxHops: 3).process(&record, headers: Headers(hops: hops)) { return (true, nil) }
        return (false, record.upstreamHeaders.set.first { $0.name == EnforceHopLimit.header }?.value)
    }

    @Test("Counts up, refuses at the limit, and a negative or repeated header cannot reset it")
    func counts() {
        #expect(verdict(nil).forwarded == "1")
        #expect(verdict("2").forwarded == "3")
        #expect(verdict("3").refused)
        #expect(verdict("-1000000").forwarded == "1")
        #expect(verdict("0, 5").refused)
    }
}
