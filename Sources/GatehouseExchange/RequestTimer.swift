import GatehouseCore
import NIOCore

/// What a `RequestTimer` calls when the deadline it was armed with passes.
public protocol RequestDeadlineHandler: AnyObject {
    func deadlinePassed()
}

/// The deadline of the request in progress on one caller's connection (its function's or
/// route's timeout), kept with one scheduled wake-up instead of one per request.
///
/// A kept-alive connection serves one request after another, each deadline later than the one
/// before, and almost every request ends long before its deadline. Scheduling an event-loop task
/// per request and cancelling it at the end (a promise, a heap insert, a locked search to remove
/// it) was about 3 % of the gateway's CPU. Here arming a later deadline, or disarming, only stores
/// it: the wake-up already scheduled stays, and when it comes it either finds nothing armed, or a
/// later deadline to wait for (one reschedule per timeout's length, not per request), or the
/// deadline passed. Fires at the deadline, as a task scheduled for it would.
///
/// Confined to `loop`: every method must be called there.
public final class RequestTimer {
    private let loop: any EventLoop
    private var wakeUp: Scheduled<Void>?
    private var wakeUpAt: NIODeadline?
    private var deadline: NIODeadline?
    private var handler: (any RequestDeadlineHandler)?
    /// Which arming is current: a late `disarm` from an exchange that already ended cannot
    /// disarm the next one's deadline.
    private var generation: UInt64 = 0

    public init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Calls `handler` once `duration` from now has passed, unless disarmed with the returned token.
    /// Replaces whatever was armed before.
    public func arm(after duration: Duration, _ handler: any RequestDeadlineHandler) -> UInt64 {
        let deadline = loop.now + .nanoseconds(max(0, duration.nanosecondsClamped))
        generation &+= 1
        self.deadline = deadline
        self.handler = handler
        if let wakeUpAt, wakeUpAt <= deadline { return generation }
        wakeUp?.cancel()
        schedule(at: deadline)
        return generation
    }

    public func disarm(_ token: UInt64) {
        guard token == generation else { return }
        deadline = nil
        handler = nil
    }

    /// The connection is gone: nothing more is armed, and the wake-up is cancelled.
    public func stop() {
        generation &+= 1
        deadline = nil
        handler = nil
        wakeUp?.cancel()
        wakeUp = nil
        wakeUpAt = nil
    }

    private func schedule(at time: NIODeadline) {
        wakeUpAt = time
        wakeUp = loop.assumeIsolated().scheduleTask(deadline: time) { [self] in woke() }
    }

    private func woke() {
        wakeUp = nil
        wakeUpAt = nil
        guard let deadline, let handler else { return }
        guard loop.now >= deadline else {
            schedule(at: deadline)
            return
        }
        self.deadline = nil
        self.handler = nil
        handler.deadlinePassed()
    }
}
