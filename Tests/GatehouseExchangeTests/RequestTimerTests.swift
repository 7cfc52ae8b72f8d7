import GatehouseExchange
import NIOCore
import NIOEmbedded
import Testing

/// Counts the times its deadline passed.
private final class Deadline: RequestDeadlineHandler {
    var passed = 0
    func deadlinePassed() { passed += 1 }
}

@Suite("A connection's request timer: each request's deadline fires on time, once, and only while armed")
struct RequestTimerTests {
    @Test("an armed deadline fires when its time comes, not before, and once")
    func firesAtTheDeadline() {
        let loop = EmbeddedEventLoop()
        let timer = RequestTimer(loop: loop, reused: true)
        let request = Deadline()
        _ = timer.arm(after: .seconds(1), request)
        loop.advanceTime(by: .milliseconds(999))
        #expect(request.passed == 0)
        loop.advanceTime(by: .milliseconds(1))
        #expect(request.passed == 1)
        loop.advanceTime(by: .seconds(10))
        #expect(request.passed == 1)
    }

    @Test("a disarmed deadline never fires; the next request's later deadline fires at its own time")
    func nextRequestKeepsItsOwnDeadline() {
        let loop = EmbeddedEventLoop()
        let timer = RequestTimer(loop: loop, reused: true)
        let first = Deadline()
        let second = Deadline()
        timer.disarm(timer.arm(after: .seconds(1), first))
        loop.advanceTime(by: .milliseconds(500))
        _ = timer.arm(after: .seconds(1), second)  // due at 1.5 s; the wake-up scheduled for 1 s stays
        loop.advanceTime(by: .milliseconds(500))
        #expect(first.passed == 0 && second.passed == 0)
        loop.advanceTime(by: .milliseconds(499))
        #expect(second.passed == 0)
        loop.advanceTime(by: .milliseconds(1))
        #expect(first.passed == 0 && second.passed == 1)
    }

    @Test("an ended request's late disarm does not disarm the request armed after it")
    func staleDisarmIsIgnored() {
        let loop = EmbeddedEventLoop()
        let timer = RequestTimer(loop: loop, reused: true)
        let first = Deadline()
        let second = Deadline()
        let stale = timer.arm(after: .seconds(5), first)
        _ = timer.arm(after: .seconds(1), second)
        timer.disarm(stale)
        loop.advanceTime(by: .seconds(1))
        #expect(second.passed == 1)
        loop.advanceTime(by: .seconds(10))
        #expect(first.passed == 0)
    }

    @Test("a shorter deadline after a longer one fires at the shorter one")
    func shorterDeadlineComesFirst() {
        let loop = EmbeddedEventLoop()
        let timer = RequestTimer(loop: loop, reused: true)
        let long = Deadline()
        let short = Deadline()
        timer.disarm(timer.arm(after: .seconds(300), long))
        _ = timer.arm(after: .milliseconds(50), short)
        loop.advanceTime(by: .milliseconds(50))
        #expect(short.passed == 1 && long.passed == 0)
    }

    @Test("a stopped timer (the connection closed) fires nothing")
    func stoppedTimerIsSilent() {
        let loop = EmbeddedEventLoop()
        let timer = RequestTimer(loop: loop, reused: true)
        let request = Deadline()
        _ = timer.arm(after: .seconds(1), request)
        timer.stop()
        loop.advanceTime(by: .seconds(5))
        #expect(request.passed == 0)
    }

    @Test("one exchange's own timer cancels its wake-up when disarmed; a connection's keeps one until the connection stops it")
    func ownTimerLeavesNothingScheduled() {
        let loop = EmbeddedEventLoop()
        let request = Deadline()
        // The loop holds a wake-up's timer until the wake-up runs or is cancelled.
        weak var ended: RequestTimer?
        do {
            let timer = RequestTimer(loop: loop)
            timer.disarm(timer.arm(after: .seconds(300), request))
            ended = timer
        }
        #expect(ended == nil, "an ended exchange's wake-up still waits on the loop")
        weak var connection: RequestTimer?
        do {
            let timer = RequestTimer(loop: loop, reused: true)
            timer.disarm(timer.arm(after: .seconds(300), request))
            connection = timer
        }
        #expect(connection != nil)
        connection?.stop()
        #expect(connection == nil)
        loop.advanceTime(by: .seconds(301))
        #expect(request.passed == 0)
    }

    @Test("an HTTP/2 connection's streams: deadlines armed side by side each fire at their own time, once; a disarmed one never")
    func concurrentStreams() {
        let loop = EmbeddedEventLoop()
        let timer = RequestTimer(concurrentOn: loop)
        let (slow, quick, ended, later) = (Deadline(), Deadline(), Deadline(), Deadline())
        _ = timer.arm(after: .seconds(3), slow)
        _ = timer.arm(after: .seconds(1), quick)  // earlier than the wake-up already scheduled
        timer.disarm(timer.arm(after: .seconds(2), ended))
        loop.advanceTime(by: .milliseconds(999))
        #expect(quick.passed == 0)
        loop.advanceTime(by: .milliseconds(1))
        #expect(quick.passed == 1 && slow.passed == 0)
        _ = timer.arm(after: .seconds(1), later)  // due at 2 s, before the slow one
        loop.advanceTime(by: .seconds(1))
        #expect(later.passed == 1 && slow.passed == 0 && ended.passed == 0)
        loop.advanceTime(by: .seconds(1))
        #expect(slow.passed == 1)
        loop.advanceTime(by: .seconds(10))
        #expect(quick.passed == 1 && later.passed == 1 && slow.passed == 1 && ended.passed == 0)
    }

    @Test("an HTTP/2 connection's timer stopped with the connection fires nothing more")
    func concurrentStopped() {
        let loop = EmbeddedEventLoop()
        let timer = RequestTimer(concurrentOn: loop)
        let (first, second) = (Deadline(), Deadline())
        _ = timer.arm(after: .seconds(1), first)
        _ = timer.arm(after: .seconds(2), second)
        timer.stop()
        loop.advanceTime(by: .seconds(5))
        #expect(first.passed == 0 && second.passed == 0)
    }

    @Test("an HTTP/2 connection's deadlines due at once: one disarmed by another's handler does not fire")
    func disarmedWhileFiring() {
        final class Disarming: RequestDeadlineHandler {
            var passed = 0
            var other: (timer: RequestTimer, token: UInt64)?
            func deadlinePassed() {
                passed += 1
                if let other { other.timer.disarm(other.token) }
            }
        }
        let loop = EmbeddedEventLoop()
        let timer = RequestTimer(concurrentOn: loop)
        let (first, second) = (Disarming(), Deadline())
        _ = timer.arm(after: .seconds(1), first)
        first.other = (timer, timer.arm(after: .seconds(1), second))
        loop.advanceTime(by: .seconds(1))
        #expect(first.passed == 1 && second.passed == 0)
    }
}
