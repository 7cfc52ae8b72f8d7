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
/// A timer of one exchange only (an in-process caller's, a mirror's) is not reused: disarming it
/// cancels its wake-up at once, so ended requests leave no task behind until their deadline.
///
/// The streams of an HTTP/2 connection share one too (`concurrent`): their deadlines are armed
/// side by side, under the same single wake-up, instead of each stream scheduling and cancelling
/// its own (2.8 % of the HTTP/2 path's CPU). Whoever made it stops it with the connection.
///
/// Confined to `loop`: every method must be called there.
public final class RequestTimer {
    private let loop: any EventLoop
    /// Reused by a connection's requests in turn; else disarming cancels the wake-up.
    private let reused: Bool
    /// Deadlines of exchanges in progress at once (an HTTP/2 connection's streams), by token.
    private let concurrent: Bool
    private var armed: [(token: UInt64, deadline: NIODeadline, handler: any RequestDeadlineHandler)] = []
    private var wakeUp: Scheduled<Void>?
    private var wakeUpAt: NIODeadline?
    private var deadline: NIODeadline?
    private var handler: (any RequestDeadlineHandler)?
    /// Which arming is current: a late `disarm` from an exchange that already ended cannot
    /// disarm the next one's deadline.
    private var generation: UInt64 = 0
    /// Which wake-up is current: one cancelled after its run was already due still runs (NIO), and must do nothing.
    private var wakeUpID: UInt64 = 0

    public init(loop: any EventLoop, reused: Bool = false) {
        self.loop = loop
        self.reused = reused
        concurrent = false
    }

    /// One timer for exchanges that run at once (the streams of an HTTP/2 connection).
    public init(concurrentOn loop: any EventLoop) {
        self.loop = loop
        reused = true
        concurrent = true
    }

    /// Calls `handler` once `duration` from now has passed, unless disarmed with the returned token.
    /// Replaces whatever was armed before (unless `concurrent`).
    public func arm(after duration: Duration, _ handler: any RequestDeadlineHandler) -> UInt64 {
        let deadline = loop.now + .nanoseconds(max(0, duration.nanosecondsClamped))
        generation &+= 1
        if concurrent {
            armed.append((generation, deadline, handler))
        } else {
            self.deadline = deadline
            self.handler = handler
        }
        if let wakeUpAt, wakeUpAt <= deadline { return generation }
        wakeUp?.cancel()
        schedule(at: deadline)
        return generation
    }

    public func disarm(_ token: UInt64) {
        if concurrent {
            // Most end in the order they began: search from the oldest.
            if let index = armed.firstIndex(where: { $0.token == token }) { armed.remove(at: index) }
            return
        }
        guard token == generation else { return }
        if !reused { return stop() }
        deadline = nil
        handler = nil
    }

    /// The connection is gone: nothing more is armed, and the wake-up is cancelled.
    public func stop() {
        generation &+= 1
        deadline = nil
        handler = nil
        armed.removeAll()
        wakeUp?.cancel()
        wakeUp = nil
        wakeUpAt = nil
    }

    private func schedule(at time: NIODeadline) {
        wakeUpAt = time
        wakeUpID &+= 1
        let id = wakeUpID
        wakeUp = loop.assumeIsolated().scheduleTask(deadline: time) { [self] in woke(id) }
    }

    private func woke(_ id: UInt64) {
        guard id == wakeUpID, wakeUp != nil else { return }
        wakeUp = nil
        wakeUpAt = nil
        if concurrent { return fireDue() }
        guard let deadline, let handler else { return }
        guard loop.now >= deadline else {
            schedule(at: deadline)
            return
        }
        self.deadline = nil
        self.handler = nil
        handler.deadlinePassed()
    }

    /// Calls the handlers whose deadline passed (oldest first), one at a time (a handler may
    /// disarm another due one, or arm a new one), then waits for the earliest left.
    private func fireDue() {
        let now = loop.now
        while let index = armed.firstIndex(where: { $0.deadline <= now }) {
            armed.remove(at: index).handler.deadlinePassed()
        }
        guard let next = armed.lazy.map(\.deadline).min() else { return }
        if let wakeUpAt, wakeUpAt <= next { return }
        wakeUp?.cancel()
        schedule(at: next)
    }
}
