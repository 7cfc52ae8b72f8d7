import GatehouseCore
import Testing

@testable import GatehouseFunctions

/// Outlier detection in the pool's state machine, with a fixed clock.
@Suite("Outlier detection")
struct OutlierDetectionTests {
    typealias Pool = InstancePoolStateMachine
    let t0 = ContinuousClock.now
    let policy = OutlierDetection(consecutive5xxErrors: 2, consecutiveGatewayErrors: nil, baseEjectionTime: .seconds(10), maxEjectionPercent: 50)

    /// Two ready instances, each serving one request.
    func twoReady(maxInstances: Int = 2) -> PoolUnderTest {
        let pool = PoolUnderTest(configuration: .init(maxInstances: maxInstances, concurrency: 1, outlierDetection: policy))
        _ = pool.acquire(1, now: t0)
        _ = pool.acquire(2, now: t0)
        _ = pool.instanceReady(1, now: t0)
        _ = pool.instanceReady(2, now: t0)
        _ = pool.release(1, now: t0)
        _ = pool.release(2, now: t0)
        return pool
    }

    @Test("Errors in a row eject an instance; requests go to the other; it comes back after baseEjectionTime")
    func ejectAndReturn() {
        let pool = twoReady()
        pool.answered(1, status: 500, now: t0)
        pool.answered(1, status: 200, now: t0)  // a success resets the count
        pool.answered(1, status: 503, now: t0)
        #expect(pool.ejected(now: t0).isEmpty)
        pool.answered(1, status: nil, now: t0)  // a reset counts as an error
        #expect(pool.ejected(now: t0) == [1])
        #expect(pool.acquire(3, now: t0 + .seconds(1)) == .dispatch(2))
        #expect(pool.release(2, now: t0 + .seconds(1)).isEmpty, "nobody waits: releasing starts nothing")
        _ = pool.tick(now: t0 + .seconds(11))
        #expect(pool.ejected(now: t0 + .seconds(11)).isEmpty)
        #expect(pool.acquire(4, now: t0 + .seconds(11)) == .dispatch(1), "instance 1 is back and least loaded")
    }

    @Test("maxEjectionPercent caps how many are out at once (at least one may be)")
    func cap() {
        let pool = twoReady()
        for _ in 0..<2 { pool.answered(1, status: 500, now: t0) }
        for _ in 0..<2 { pool.answered(2, status: 500, now: t0) }
        #expect(pool.ejected(now: t0) == [1], "50 % of 2: the second stays in")
    }

    @Test("A second ejection lasts twice as long; with every instance out and no room, 503 no healthy upstream")
    func growingAndUnavailable() {
        let pool = PoolUnderTest(configuration: .init(maxInstances: 1, concurrency: 1, outlierDetection: policy))
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)
        _ = pool.release(1, now: t0)
        for _ in 0..<2 { pool.answered(1, status: 502, now: t0) }
        let decision = pool.acquire(2, now: t0 + .seconds(4))
        guard case .reject(.ejected(let retryAfter)) = decision else {
            Issue.record("expected 503 while the only instance is ejected, got \(decision); ejected \(pool.ejected(now: t0))")
            return
        }
        #expect(retryAfter == .seconds(6))
        _ = pool.tick(now: t0 + .seconds(10))
        for _ in 0..<2 { pool.answered(1, status: 500, now: t0 + .seconds(10)) }
        #expect(pool.ejected(now: t0 + .seconds(29)) == [1], "20 s the second time")
        #expect(pool.ejected(now: t0 + .seconds(30)).isEmpty)
    }

    @Test("Answers while ejected do not count; healthy intervals lower the multiplier; waiting requests are refused, not stranded")
    func multiplierAndWaiters() {
        let pool = PoolUnderTest(configuration: .init(maxInstances: 1, concurrency: 1, outlierDetection: policy))
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)
        #expect(pool.acquire(2, now: t0) == .wait(starting: []), "the only instance is busy: request 2 waits")
        pool.answered(1, status: 500, now: t0)
        let actions = pool.answered(1, status: 500, now: t0)
        #expect(actions == [.reject(2, .ejected(retryAfter: .seconds(10)))], "the waiting request is told at once")
        for _ in 0..<10 { pool.answered(1, status: 500, now: t0 + .seconds(1)) }  // late answers of an ejected instance
        _ = pool.tick(now: t0 + .seconds(10))
        // Back at 10 s; quiet for 2 intervals (10 s each): the multiplier is down to 0 again.
        for _ in 0..<2 { pool.answered(1, status: 500, now: t0 + .seconds(31)) }
        #expect(pool.ejected(now: t0 + .seconds(40)) == [1] && pool.ejected(now: t0 + .seconds(41)).isEmpty, "10 s, not 20 or 300")
    }
}
