import Foundation
import GatehouseCore
import Testing

/// The breaker that pauses a runaway Trigger, driven by outcomes and a fixed clock.
@Suite("Trigger breaker")
struct TriggerBreakerTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    /// Fails `count` deliveries at `time`; returns the last action.
    @discardableResult
    func fail(_ breaker: inout TriggerBreaker, _ count: Int, at time: Double = 0) -> TriggerBreaker.Action? {
        var action: TriggerBreaker.Action?
        for _ in 0..<count { action = breaker.failed(now: at(time)) }
        return action
    }

    @Test("Closed: deliveries flow; fewer failures in a row than the threshold change nothing; a success resets the count")
    func closed() {
        var breaker = TriggerBreaker()
        #expect(breaker.admission(now: t0) == .deliver)
        #expect(fail(&breaker, 4) == nil)
        #expect(breaker.status.consecutiveFailures == 4 && breaker.state == .closed)
        #expect(breaker.succeeded(now: t0) == nil)
        #expect(breaker.status.consecutiveFailures == 0)
        #expect(fail(&breaker, 4) == nil && breaker.state == .closed)
    }

    @Test("The fifth failure in a row pauses the Trigger for 1s; nothing is delivered until then")
    func opens() {
        var breaker = TriggerBreaker()
        #expect(fail(&breaker, 5) == .paused(until: at(1), pause: .seconds(1)))
        #expect(breaker.state == .open(until: at(1)))
        #expect(breaker.status.resumesAt == at(1) && breaker.status.name == "open" && breaker.status.timesPaused == 1)
        #expect(breaker.admission(now: at(0.5)) == .paused(until: at(1)))
        // Failures of deliveries that started before the pause do not extend it.
        #expect(breaker.failed(now: at(0.6)) == nil && breaker.state == .open(until: at(1)))
    }

    @Test("After the pause one delivery probes; others wait for its outcome")
    func halfOpen() {
        var breaker = TriggerBreaker()
        fail(&breaker, 5)
        #expect(breaker.admission(now: at(1)) == .probe)
        #expect(breaker.status.name == "half-open")
        breaker.started()
        #expect(breaker.admission(now: at(1.1)) == .paused(until: nil))
        // A probe that did not run after all (nothing was due) lets another take its place.
        breaker.probeAbandoned()
        #expect(breaker.admission(now: at(1.2)) == .probe)
    }

    @Test("A successful probe closes the breaker and resets the pause")
    func probeSucceeds() {
        var breaker = TriggerBreaker()
        fail(&breaker, 5)
        _ = breaker.admission(now: at(1))
        breaker.started()
        #expect(breaker.succeeded(now: at(1.5)) == .resumed)
        #expect(breaker.state == .closed && breaker.admission(now: at(1.5)) == .deliver)
        #expect(breaker.status.nextPause == .seconds(1) && breaker.status.timesPaused == 0)
        #expect(fail(&breaker, 5, at: 2) == .paused(until: at(3), pause: .seconds(1)))
    }

    @Test("A failed probe pauses again, twice as long each time, up to 5 minutes")
    func backoffDoubles() {
        var breaker = TriggerBreaker()
        var now = 0.0
        var pauses: [Duration] = []
        guard case .paused(_, let first) = fail(&breaker, 5, at: now) else { Issue.record("did not open"); return }
        pauses.append(first)
        now += first.timeInterval
        for _ in 0..<12 {
            #expect(breaker.admission(now: at(now)) == .probe)
            breaker.started()
            guard case .paused(let until, let pause) = breaker.failed(now: at(now)) else { Issue.record("did not reopen"); return }
            #expect(until == at(now) + pause.timeInterval)
            pauses.append(pause)
            now += pause.timeInterval
        }
        #expect(pauses.map { Int($0.timeInterval) } == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300])
        #expect(breaker.status.timesPaused == 13)
    }

    @Test("A late success from before the pause resumes at once")
    func lateSuccess() {
        var breaker = TriggerBreaker()
        fail(&breaker, 5)
        #expect(breaker.succeeded(now: at(0.5)) == .resumed)
        #expect(breaker.admission(now: at(0.5)) == .deliver)
    }

    @Test("Thresholds and pauses are configurable, and sane")
    func configuration() {
        var breaker = TriggerBreaker(configuration: .init(failureThreshold: 1, initialPause: .seconds(10), maxPause: .seconds(15)))
        #expect(breaker.failed(now: t0) == .paused(until: at(10), pause: .seconds(10)))
        _ = breaker.admission(now: at(10))
        #expect(breaker.failed(now: at(10)) == .paused(until: at(25), pause: .seconds(15)))
        let clamped = TriggerBreaker.Configuration(failureThreshold: 0, initialPause: .seconds(10), maxPause: .seconds(1))
        #expect(clamped.failureThreshold == 1 && clamped.maxPause == .seconds(10))
    }
}
