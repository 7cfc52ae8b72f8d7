import Foundation

/// The circuit breaker that contains a runaway Trigger: after `failureThreshold` failed deliveries
/// in a row it pauses the Trigger, then lets one delivery through to probe the subscriber, and
/// either resumes or pauses again for twice as long (up to `maxPause`).
///
/// A plain value: outcomes and the time come in, decisions and actions go out; no clock, no I/O
/// (the dispatcher holds one per Trigger under its lock, and `describe trigger` and the metrics
/// read `status`). Its state is not stored: after a restart every Trigger starts closed.
///
/// ```
/// closed ──N failures in a row──► open(until) ──time passes──► half-open ──probe succeeds──► closed
///    ▲                               ▲                              │
///    └── any success resets ─────────┴──── probe fails (pause ×2) ──┘
/// ```
public struct TriggerBreaker: Sendable, Hashable {
    public struct Configuration: Sendable, Hashable {
        /// Failed deliveries in a row that pause the Trigger; default 5.
        public var failureThreshold: Int
        /// The first pause; default 1 s.
        public var initialPause: Duration
        /// The longest pause; default 5 min.
        public var maxPause: Duration

        public init(failureThreshold: Int = 5, initialPause: Duration = .seconds(1), maxPause: Duration = .seconds(300)) {
            self.failureThreshold = max(1, failureThreshold)
            self.initialPause = initialPause
            self.maxPause = max(initialPause, maxPause)
        }
    }

    public enum State: Sendable, Hashable {
        /// Delivering; `consecutiveFailures` below the threshold.
        case closed
        /// Paused: nothing is delivered before `until`.
        case open(until: Date)
        /// The pause is over: one delivery may probe the subscriber (`probing` once it started).
        case halfOpen(probing: Bool)
    }

    /// What the dispatcher may do now.
    public enum Admission: Sendable, Hashable {
        /// Deliver as many as the Trigger's other limits allow.
        case deliver
        /// Deliver exactly one, then report its outcome.
        case probe
        /// Deliver nothing; ask again at `until` (nil: when the probe in flight reports).
        case paused(until: Date?)
    }

    /// What changed, for a log line, a metric and the dispatcher's schedule.
    public enum Action: Sendable, Hashable {
        case paused(until: Date, pause: Duration)
        case resumed
    }

    /// What `describe trigger` and the metrics show.
    public struct Status: Sendable, Hashable {
        public var state: State
        public var consecutiveFailures: Int
        /// When a paused Trigger probes again.
        public var resumesAt: Date?
        /// The pause the next opening will last.
        public var nextPause: Duration
        /// How many times it paused since it last resumed.
        public var timesPaused: Int
        /// `closed`, `open`, `half-open`: the word metrics and `describe` use.
        public var name: String {
            switch state {
            case .closed: "closed"
            case .open: "open"
            case .halfOpen: "half-open"
            }
        }
    }

    public let configuration: Configuration
    public private(set) var state: State = .closed
    public private(set) var consecutiveFailures = 0
    private var pause: Duration
    private var timesPaused = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.pause = configuration.initialPause
    }

    public var status: Status {
        var resumesAt: Date?
        if case .open(let until) = state { resumesAt = until }
        return Status(state: state, consecutiveFailures: consecutiveFailures, resumesAt: resumesAt, nextPause: pause, timesPaused: timesPaused)
    }

    // MARK: Events

    /// May deliveries start now? Ends a pause whose time has come (open → half-open).
    public mutating func admission(now: Date) -> Admission {
        switch state {
        case .closed:
            return .deliver
        case .open(let until):
            guard now >= until else { return .paused(until: until) }
            state = .halfOpen(probing: false)
            return .probe
        case .halfOpen(let probing):
            return probing ? .paused(until: nil) : .probe
        }
    }

    /// A delivery started (after `.probe`, it is the probe).
    public mutating func started() {
        if case .halfOpen(false) = state { state = .halfOpen(probing: true) }
    }

    /// The probe that `started` reported did not run after all (nothing was due): another may.
    public mutating func probeAbandoned() {
        if case .halfOpen(true) = state { state = .halfOpen(probing: false) }
    }

    /// A delivery reached its subscriber.
    public mutating func succeeded(now: Date) -> Action? {
        consecutiveFailures = 0
        switch state {
        case .closed:
            return nil
        case .open, .halfOpen:
            // A success while paused came from a delivery started before the pause: the
            // subscriber answers again, so there is nothing left to wait for.
            state = .closed
            pause = configuration.initialPause
            timesPaused = 0
            return .resumed
        }
    }

    /// A delivery failed (an answer that is not 2xx, or none).
    public mutating func failed(now: Date) -> Action? {
        switch state {
        case .closed:
            consecutiveFailures += 1
            guard consecutiveFailures >= configuration.failureThreshold else { return nil }
            return open(now: now)
        case .open:
            // From a delivery started before the pause: already counted by opening.
            return nil
        case .halfOpen:
            consecutiveFailures += 1
            return open(now: now)
        }
    }

    private mutating func open(now: Date) -> Action {
        let current = pause
        let until = now.addingTimeInterval(current.timeInterval)
        state = .open(until: until)
        timesPaused += 1
        pause = min(pause * 2, configuration.maxPause)
        return .paused(until: until, pause: current)
    }
}
