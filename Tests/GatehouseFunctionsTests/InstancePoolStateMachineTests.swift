import GatehouseCore
import Testing

@testable import GatehouseFunctions

/// The activator's decisions for one function, driven by events and a fixed clock: no processes,
/// no sockets. Each test reads as "given this configuration, these events produce these actions".
@Suite("Instance pool state machine")
struct InstancePoolStateMachineTests {
    typealias Pool = InstancePoolStateMachine

    /// Every instant in these tests is an offset from one fixed base.
    let t0 = ContinuousClock.now

    func pool(
        minInstances: Int = 0, maxInstances: Int = 10, concurrency: Int = 80, maxQueue: Int = 100,
        idleTimeout: Duration = .seconds(60), startupTimeout: Duration = .seconds(30),
        initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(30)
    ) -> PoolUnderTest {
        PoolUnderTest(configuration: .init(
            minInstances: minInstances, maxInstances: maxInstances, concurrency: concurrency, maxQueue: maxQueue,
            idleTimeout: idleTimeout, startupTimeout: startupTimeout,
            initialBackoff: initialBackoff, maxBackoff: maxBackoff))
    }

    // MARK: Scaling from zero and warm dispatch

    @Test("The first request waits while instance 1 starts; readiness dispatches it as a cold start")
    func scaleFromZero() {
        let pool = pool()
        #expect(pool.acquire(1, now: t0) == .wait(starting: [1]))
        #expect(pool.queueDepth == 1)
        #expect(pool.instanceCount == 1)
        #expect(pool.readyCount == 0)

        #expect(pool.instanceReady(1, now: t0 + .seconds(2)) == [.dispatch(1, to: 1, coldStart: true)])
        #expect(pool.queueDepth == 0)
        #expect(pool.readyCount == 1)
        #expect(pool.inflight == 1)
    }

    @Test("Requests arriving while an instance starts wait for it rather than starting more, up to its concurrency")
    func waitersShareAStartingInstance() {
        let pool = pool(concurrency: 2)
        #expect(pool.acquire(1, now: t0) == .wait(starting: [1]))
        #expect(pool.acquire(2, now: t0) == .wait(starting: []))
        #expect(pool.acquire(3, now: t0) == .wait(starting: [2]))

        #expect(pool.instanceReady(1, now: t0 + .seconds(1)) == [
            .dispatch(1, to: 1, coldStart: true), .dispatch(2, to: 1, coldStart: true),
        ])
        #expect(pool.instanceReady(2, now: t0 + .seconds(1)) == [.dispatch(3, to: 2, coldStart: true)])
    }

    @Test("Once an instance is ready, a request is dispatched at once")
    func warmDispatch() {
        let pool = pool()
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0 + .seconds(1))
        #expect(pool.acquire(2, now: t0 + .seconds(2)) == .dispatch(1))
        #expect(pool.inflight == 2)
        #expect(pool.instanceCount == 1)
    }

    @Test("A request goes to the least loaded ready instance")
    func leastLoaded() {
        let pool = pool(concurrency: 2)
        _ = pool.acquire(1, now: t0)  // starts 1
        _ = pool.acquire(2, now: t0)
        _ = pool.acquire(3, now: t0)  // starts 2
        _ = pool.instanceReady(1, now: t0)  // 1 and 2 → instance 1, now full
        _ = pool.instanceReady(2, now: t0)  // 3 → instance 2
        _ = pool.release(1, now: t0 + .seconds(1))
        _ = pool.release(1, now: t0 + .seconds(1))
        // Instance 1 is idle and instance 2 serves one request.
        #expect(pool.acquire(4, now: t0 + .seconds(2)) == .dispatch(1))
    }

    // MARK: Concurrency, scale-out and the queue

    @Test("Concurrency 1, max 2: a busy instance makes the second request start instance 2; the third waits")
    func concurrencyLimitAndScaleOut() {
        let pool = pool(maxInstances: 2, concurrency: 1)
        #expect(pool.acquire(1, now: t0) == .wait(starting: [1]))
        #expect(pool.instanceReady(1, now: t0) == [.dispatch(1, to: 1, coldStart: true)])

        #expect(pool.acquire(2, now: t0 + .seconds(1)) == .wait(starting: [2]))
        #expect(pool.acquire(3, now: t0 + .seconds(1)) == .wait(starting: []))
        #expect(pool.instanceCount == 2)
        #expect(pool.queueDepth == 2)

        #expect(pool.instanceReady(2, now: t0 + .seconds(2)) == [.dispatch(2, to: 2, coldStart: true)])
        #expect(pool.queueDepth == 1)
        #expect(pool.inflight == 2)
    }

    @Test("With maxQueue N, the N+1th waiting request is rejected as queueFull", arguments: [1, 2, 5])
    func queueBound(maxQueue: Int) {
        let pool = pool(maxInstances: 1, concurrency: 1, maxQueue: maxQueue)
        for waiter in 1...maxQueue {
            guard case .wait = pool.acquire(waiter, now: t0) else {
                Issue.record("waiter \(waiter) should wait")
                return
            }
        }
        #expect(pool.acquire(maxQueue + 1, now: t0) == .reject(.queueFull))
        #expect(pool.queueDepth == maxQueue)
    }

    @Test("Releasing an instance hands it to the longest-waiting request, as a warm start")
    func releaseHandsOverInOrder() {
        let pool = pool(maxInstances: 1, concurrency: 1)
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)
        #expect(pool.acquire(2, now: t0) == .wait(starting: []))
        #expect(pool.acquire(3, now: t0) == .wait(starting: []))

        #expect(pool.release(1, now: t0 + .seconds(1)) == [.dispatch(2, to: 1, coldStart: false)])
        #expect(pool.release(1, now: t0 + .seconds(2)) == [.dispatch(3, to: 1, coldStart: false)])
        #expect(pool.release(1, now: t0 + .seconds(3)) == [])
        #expect(pool.inflight == 0)
        #expect(pool.queueDepth == 0)
    }

    @Test("A cancelled waiter leaves the queue and is never dispatched")
    func cancel() {
        let pool = pool()
        _ = pool.acquire(1, now: t0)
        _ = pool.acquire(2, now: t0)
        #expect(pool.cancel(1))
        #expect(!pool.cancel(1))
        #expect(!pool.cancel(99))
        #expect(pool.queueDepth == 1)
        #expect(pool.instanceReady(1, now: t0 + .seconds(1)) == [.dispatch(2, to: 1, coldStart: true)])
    }

    // MARK: Idle scale-down and the minimum

    @Test("An instance idle for idleTimeout is stopped on the next tick, not before")
    func idleScaleDown() {
        let pool = pool(idleTimeout: .seconds(60))
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)
        _ = pool.release(1, now: t0 + .seconds(1))

        #expect(pool.tick(now: t0 + .seconds(60)).actions == [])
        #expect(pool.tick(now: t0 + .seconds(61)).actions == [.stop(1)])
        #expect(pool.instanceCount == 0)
        // Scaled to zero: the next request starts a new instance.
        #expect(pool.acquire(2, now: t0 + .seconds(62)) == .wait(starting: [2]))
    }

    @Test("An instance serving a request is never stopped for idleness")
    func busyInstanceIsNotIdle() {
        let pool = pool(idleTimeout: .seconds(60))
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)
        #expect(pool.tick(now: t0 + .seconds(3600)).actions == [])
        #expect(pool.instanceCount == 1)
    }

    @Test("Idle scale-down stops nothing below minInstances")
    func idleScaleDownKeepsMinimum() {
        let pool = pool(minInstances: 1, maxInstances: 2, concurrency: 1, idleTimeout: .seconds(60))
        #expect(pool.tick(now: t0).actions == [.start(1)])
        #expect(pool.instanceReady(1, now: t0) == [])
        #expect(pool.acquire(1, now: t0) == .dispatch(1))
        #expect(pool.acquire(2, now: t0) == .wait(starting: [2]))
        _ = pool.instanceReady(2, now: t0)
        _ = pool.release(1, now: t0 + .seconds(1))
        _ = pool.release(2, now: t0 + .seconds(1))

        #expect(pool.tick(now: t0 + .seconds(61)).actions == [.stop(1)])
        #expect(pool.tick(now: t0 + .seconds(3600)).actions == [])
        #expect(pool.instanceCount == 1)
    }

    @Test("tick starts minInstances, counting instances that are already starting")
    func minimumStartedByTick() {
        let pool = pool(minInstances: 2)
        #expect(pool.tick(now: t0).actions == [.start(1), .start(2)])
        #expect(pool.tick(now: t0 + .seconds(1)).actions == [])
        #expect(pool.instanceCount == 2)
    }

    // MARK: Crashes, start failures and back-off

    @Test("A ready instance that crashes is replaced when requests are waiting")
    func crashWithWaitersStartsReplacement() {
        let pool = pool(maxInstances: 1, concurrency: 1)
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)
        #expect(pool.acquire(2, now: t0) == .wait(starting: []))

        let exit = pool.instanceExited(1, now: t0 + .seconds(1))
        #expect(exit.failure == nil)
        #expect(exit.actions == [.start(2)])
        #expect(pool.instanceReady(2, now: t0 + .seconds(2)) == [.dispatch(2, to: 2, coldStart: true)])
    }

    @Test("A crash with nobody waiting is not replaced, unless minInstances asks for it")
    func crashWithoutWaiters() {
        let idle = pool()
        _ = idle.acquire(1, now: t0)
        _ = idle.instanceReady(1, now: t0)
        _ = idle.release(1, now: t0)
        let exit = idle.instanceExited(1, now: t0 + .seconds(1))
        #expect(exit.failure == nil)
        #expect(exit.actions == [])
        #expect(idle.instanceCount == 0)

        let warm = pool(minInstances: 1)
        _ = warm.tick(now: t0)
        _ = warm.instanceReady(1, now: t0)
        #expect(warm.instanceExited(1, now: t0 + .seconds(1)).actions == [.start(2)])
    }

    @Test("An instance that exits before it is ready fails its waiters with unavailable(retryAfter: initialBackoff)")
    func startFailureRejectsWaiters() {
        let pool = pool(initialBackoff: .seconds(1))
        _ = pool.acquire(1, now: t0)
        _ = pool.acquire(2, now: t0)

        let exit = pool.instanceExited(1, now: t0 + .milliseconds(500))
        #expect(exit.failure == .exitedBeforeReady)
        #expect(exit.actions == [
            .reject(1, .unavailable(retryAfter: .seconds(1))), .reject(2, .unavailable(retryAfter: .seconds(1))),
        ])
        #expect(pool.queueDepth == 0)
        #expect(pool.instanceCount == 0)
    }

    @Test("During the back-off, requests are refused with the time left; after it, a new start is tried")
    func backoffRefusesThenRetries() {
        let pool = pool(initialBackoff: .seconds(1))
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceExited(1, now: t0)  // back off until t0 + 1s

        #expect(pool.acquire(2, now: t0 + .milliseconds(250)) == .reject(.unavailable(retryAfter: .milliseconds(750))))
        #expect(pool.tick(now: t0 + .milliseconds(500)).actions == [])
        #expect(pool.acquire(3, now: t0 + .seconds(1)) == .wait(starting: [2]))
    }

    @Test("The back-off doubles per consecutive failed start, up to maxBackoff, and a ready instance resets it")
    func backoffDoublesAndResets() {
        let pool = pool(maxInstances: 1, initialBackoff: .seconds(1), maxBackoff: .seconds(3))
        var now = t0

        /// One request that starts an instance, which then fails: returns the waiter's rejection.
        func failedStart(waiter: Int) -> [Pool.Action] {
            guard case .wait(let starting) = pool.acquire(waiter, now: now), let id = starting.first else {
                Issue.record("waiter \(waiter) should have started an instance")
                return []
            }
            return pool.instanceExited(id, now: now).actions
        }

        #expect(failedStart(waiter: 1) == [.reject(1, .unavailable(retryAfter: .seconds(1)))])
        now += .seconds(1)
        #expect(failedStart(waiter: 2) == [.reject(2, .unavailable(retryAfter: .seconds(2)))])
        now += .seconds(2)
        #expect(failedStart(waiter: 3) == [.reject(3, .unavailable(retryAfter: .seconds(3)))])
        now += .seconds(3)
        #expect(failedStart(waiter: 4) == [.reject(4, .unavailable(retryAfter: .seconds(3)))])
        now += .seconds(3)

        // A start that succeeds resets the count.
        #expect(pool.acquire(5, now: now) == .wait(starting: [5]))
        #expect(pool.instanceReady(5, now: now) == [.dispatch(5, to: 5, coldStart: true)])
        _ = pool.release(5, now: now)
        _ = pool.instanceExited(5, now: now)  // a crash of a ready instance is not a failed start
        #expect(failedStart(waiter: 6) == [.reject(6, .unavailable(retryAfter: .seconds(1)))])
    }

    @Test("A failed start keeps the waiters while another instance may still serve them")
    func startFailureWithAnotherInstanceStarting() {
        let pool = pool(maxInstances: 2, concurrency: 1)
        #expect(pool.acquire(1, now: t0) == .wait(starting: [1]))
        #expect(pool.acquire(2, now: t0) == .wait(starting: [2]))

        let exit = pool.instanceExited(1, now: t0)
        #expect(exit.failure == .exitedBeforeReady)
        #expect(exit.actions == [])
        #expect(pool.queueDepth == 2)
        #expect(pool.instanceReady(2, now: t0 + .seconds(1)) == [.dispatch(1, to: 2, coldStart: true)])
        #expect(pool.release(2, now: t0 + .seconds(2)) == [.dispatch(2, to: 2, coldStart: false)])
    }

    @Test("An instance not ready within startupTimeout is stopped on tick and its waiters are refused")
    func startupTimeout() {
        let pool = pool(startupTimeout: .seconds(30), initialBackoff: .seconds(1))
        _ = pool.acquire(1, now: t0)

        #expect(pool.tick(now: t0 + .seconds(29)).actions == [])
        let tick = pool.tick(now: t0 + .seconds(30))
        #expect(tick.timedOut == [1])
        #expect(tick.actions == [.stop(1), .reject(1, .unavailable(retryAfter: .seconds(1)))])
        #expect(pool.instanceCount == 0)

        // The stopped process reporting in late changes nothing.
        #expect(pool.instanceReady(1, now: t0 + .seconds(31)) == [])
        let lateExit = pool.instanceExited(1, now: t0 + .seconds(31))
        #expect(lateExit.failure == nil)
        #expect(lateExit.actions == [])
    }

    @Test("An unhealthy instance is stopped, and replaced when requests are waiting")
    func unhealthyInstance() {
        let pool = pool(maxInstances: 1, concurrency: 1)
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)
        _ = pool.acquire(2, now: t0)

        #expect(pool.instanceUnhealthy(1, now: t0 + .seconds(1)) == [.stop(1), .start(2)])
        #expect(pool.instanceReady(2, now: t0 + .seconds(2)) == [.dispatch(2, to: 2, coldStart: true)])
        // The request that was on the unhealthy instance finishes later: nothing happens.
        #expect(pool.release(1, now: t0 + .seconds(3)) == [])

        #expect(pool.instanceUnhealthy(2, now: t0 + .seconds(4)) == [.stop(2)])
    }

    @Test("Waiters are not stranded when the last instance goes away during a back-off")
    func waitersNotStrandedDuringBackoff() {
        let pool = pool(maxInstances: 2, concurrency: 1, initialBackoff: .seconds(1))
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)  // 1 serves waiter 1
        #expect(pool.acquire(2, now: t0) == .wait(starting: [2]))
        // Instance 2 fails to start; waiter 2 may still be served by instance 1, so it keeps waiting.
        let failedStart = pool.instanceExited(2, now: t0)
        #expect(failedStart.failure == .exitedBeforeReady)
        #expect(failedStart.actions == [])
        // Instance 1 crashes inside the back-off.
        // Instance 1 crashes inside the back-off: nothing runs and nothing may start, so waiter 2
        // is refused at once rather than left to time out.
        let crash = pool.instanceExited(1, now: t0 + .milliseconds(500))
        #expect(crash.actions == [.reject(2, .unavailable(retryAfter: .milliseconds(500)))])
        #expect(pool.queueDepth == 0)
    }

    @Test("During a back-off, a request queues behind a busy ready instance instead of being refused")
    func backoffWithABusyInstance() {
        let pool = pool(maxInstances: 2, concurrency: 1, initialBackoff: .seconds(1))
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)
        _ = pool.acquire(2, now: t0)  // starts instance 2
        _ = pool.instanceExited(2, now: t0)  // which fails: back-off until t0 + 1 s; waiter 2 keeps waiting
        #expect(pool.acquire(3, now: t0 + .milliseconds(100)) == .wait(starting: []))
        #expect(pool.release(1, now: t0 + .milliseconds(200)) == [.dispatch(2, to: 1, coldStart: false)])
    }

    @Test("When a back-off ends, tick starts an instance for the requests still waiting")
    func backoffEndsOnTick() {
        let pool = pool(maxInstances: 2, concurrency: 1, initialBackoff: .seconds(1))
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)
        _ = pool.acquire(2, now: t0)
        _ = pool.instanceExited(2, now: t0)
        #expect(pool.tick(now: t0 + .milliseconds(500)).actions == [], "still backing off")
        #expect(pool.tick(now: t0 + .seconds(1)).actions == [.start(3)])
    }

    // MARK: Shutdown and unknown ids

    @Test("Shutdown refuses every waiter, stops every instance, and refuses later requests")
    func shutdown() {
        let pool = pool(maxInstances: 2, concurrency: 1)
        _ = pool.acquire(1, now: t0)
        _ = pool.instanceReady(1, now: t0)
        _ = pool.acquire(2, now: t0)  // starts 2
        _ = pool.acquire(3, now: t0)

        #expect(pool.shutdown() == [.reject(2, .shuttingDown), .reject(3, .shuttingDown), .stop(1), .stop(2)])
        #expect(pool.instanceCount == 0)
        #expect(pool.acquire(4, now: t0) == .reject(.shuttingDown))
        #expect(pool.tick(now: t0 + .seconds(3600)).actions == [])
        #expect(pool.release(1, now: t0) == [])
    }

    // MARK: Retiring after an apply

    @Test("A retired pool serves what it admitted, stops each instance once idle, and keeps none warm")
    func retire() {
        let pool = pool(minInstances: 2, concurrency: 1)
        _ = pool.tick(now: t0)  // starts 1 and 2
        _ = pool.instanceReady(1, now: t0)
        _ = pool.instanceReady(2, now: t0)
        #expect(pool.acquire(1, now: t0) == .dispatch(1))

        #expect(pool.retire(now: t0) == [.stop(2)], "the idle instance stops at once; the busy one is left alone")
        #expect(!pool.isDrained)
        #expect(pool.acquire(2, now: t0) == .wait(starting: [3]), "a request admitted before the swap still gets an instance")
        #expect(pool.release(1, now: t0) == [.dispatch(2, to: 1, coldStart: false)])
        #expect(pool.release(1, now: t0) == [])
        #expect(pool.tick(now: t0).actions == [.stop(1)])
        #expect(pool.instanceReady(3, now: t0) == [])
        #expect(!pool.isDrained)
        #expect(pool.tick(now: t0).actions == [.stop(3)], "an instance started for nobody stops once ready")
        #expect(pool.isDrained)
    }

    @Test("Events about unknown instances are ignored")
    func unknownIdsAreIgnored() {
        let pool = pool(minInstances: 1)
        _ = pool.tick(now: t0)
        #expect(pool.release(42, now: t0) == [])
        #expect(pool.instanceReady(42, now: t0) == [])
        #expect(pool.instanceExited(42, now: t0).failure == nil)
        #expect(pool.instanceExited(42, now: t0).actions == [])
        #expect(pool.instanceUnhealthy(42, now: t0) == [])
        #expect(pool.instanceCount == 1)

        // A second "ready" for the same instance is ignored too.
        #expect(pool.instanceReady(1, now: t0) == [])
        #expect(pool.instanceReady(1, now: t0) == [])
        #expect(pool.readyCount == 1)
    }
}

/// Holds the state machine so that `#expect` can call its mutating events inline; it only forwards.
final class PoolUnderTest {
    typealias Pool = InstancePoolStateMachine
    private var machine: Pool

    init(configuration: Pool.Configuration) {
        machine = Pool(configuration: configuration)
    }

    var queueDepth: Int { machine.queueDepth }
    var instanceCount: Int { machine.instanceCount }
    var readyCount: Int { machine.readyCount }
    var inflight: Int { machine.inflight }

    func acquire(_ waiter: Pool.WaiterID, now: Pool.Instant) -> Pool.AcquireDecision {
        machine.acquire(waiter, now: now)
    }
    func cancel(_ waiter: Pool.WaiterID) -> Bool { machine.cancel(waiter) }
    func release(_ id: Pool.InstanceID, now: Pool.Instant) -> [Pool.Action] { machine.release(id, now: now) }
    func instanceReady(_ id: Pool.InstanceID, now: Pool.Instant) -> [Pool.Action] {
        machine.instanceReady(id, now: now)
    }
    func instanceExited(_ id: Pool.InstanceID, now: Pool.Instant) -> (failure: Pool.StartFailure?, actions: [Pool.Action]) {
        machine.instanceExited(id, now: now)
    }
    func instanceUnhealthy(_ id: Pool.InstanceID, now: Pool.Instant) -> [Pool.Action] {
        machine.instanceUnhealthy(id, now: now)
    }
    func tick(now: Pool.Instant) -> (timedOut: [Pool.InstanceID], actions: [Pool.Action]) { machine.tick(now: now) }
    @discardableResult
    func answered(_ id: Pool.InstanceID, status: Int?, now: Pool.Instant) -> [Pool.Action] {
        machine.instanceAnswered(id, status: status, now: now)
    }
    func ejected(now: Pool.Instant) -> [Pool.InstanceID] { machine.ejected(now: now) }
    func shutdown() -> [Pool.Action] { machine.shutdown() }
    func retire(now: Pool.Instant) -> [Pool.Action] { machine.retire(now: now) }
    var isDrained: Bool { machine.isDrained }
}
