import GatehouseCore

/// The activator's brain for one function: which instance serves a request, when requests wait,
/// when instances start and stop.
///
/// A plain value that takes events and returns actions; it does no I/O and reads no clock (the
/// caller passes `now`), so it is tested without processes or sockets. `FunctionPool` holds it under
/// a lock and carries out the actions.
public struct InstancePoolStateMachine: Sendable {
    public typealias Instant = ContinuousClock.Instant
    public typealias InstanceID = Int
    public typealias WaiterID = Int

    public struct Configuration: Sendable, Hashable {
        public var minInstances: Int
        public var maxInstances: Int
        public var concurrency: Int
        public var maxQueue: Int
        public var idleTimeout: Duration
        public var startupTimeout: Duration
        /// First wait after a failed start; doubles per consecutive failure, up to `maxBackoff`.
        public var initialBackoff: Duration
        public var maxBackoff: Duration
        /// A DestinationRule's outlier detection: instances answering with errors in a row are
        /// ejected for a while.
        public var outlierDetection: OutlierDetection?

        public init(
            minInstances: Int = 0, maxInstances: Int = 10, concurrency: Int = 80, maxQueue: Int = 100,
            idleTimeout: Duration = .seconds(60), startupTimeout: Duration = .seconds(30),
            initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(30), outlierDetection: OutlierDetection? = nil
        ) {
            self.outlierDetection = outlierDetection
            self.minInstances = minInstances
            self.maxInstances = maxInstances
            self.concurrency = concurrency
            self.maxQueue = maxQueue
            self.idleTimeout = idleTimeout
            self.startupTimeout = startupTimeout
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    public enum Rejection: Hashable, Sendable {
        /// `maxQueue` requests are already waiting.
        case queueFull
        /// Starting an instance failed; no instance can serve until `retryAfter` has passed.
        case unavailable(retryAfter: Duration)
        /// Outlier detection ejected every instance and no other may start.
        case ejected(retryAfter: Duration)
        case shuttingDown
    }

    public enum AcquireDecision: Hashable, Sendable {
        case dispatch(InstanceID)
        /// Wait; the listed instances were asked to start for it.
        case wait(starting: [InstanceID])
        case reject(Rejection)
    }

    public enum Action: Hashable, Sendable {
        case dispatch(WaiterID, to: InstanceID, coldStart: Bool)
        case reject(WaiterID, Rejection)
        case start(InstanceID)
        case stop(InstanceID)
    }

    /// Why an instance left the pool, as the pool reports it.
    public enum StartFailure: Hashable, Sendable {
        case exitedBeforeReady
        case startupTimedOut
    }

    enum InstanceState: Hashable, Sendable {
        case starting(since: Instant)
        case ready(inflight: Int, lastUsed: Instant)
    }

    public private(set) var configuration: Configuration
    private(set) var instances: [(id: InstanceID, state: InstanceState)] = []
    private var waiters: [WaiterID] = []
    private var waitersHead = 0
    private var nextInstanceID = 1
    private var consecutiveStartFailures = 0
    private var backoffUntil: Instant?
    private var isShuttingDown = false
    /// Outlier detection: answers in a row per instance, and the ejected ones until when.
    private var health: [InstanceID: OutlierDetection.Tracker] = [:]
    private var ejectedUntil: [InstanceID: Instant] = [:]

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    // MARK: Observations (for gauges)

    public var queueDepth: Int { waiters.count - waitersHead }
    public var instanceCount: Int { instances.count }
    public var readyCount: Int { instances.count { if case .ready = $0.state { true } else { false } } }
    public var inflight: Int {
        instances.reduce(0) { total, entry in
            if case .ready(let inflight, _) = entry.state { return total + inflight }
            return total
        }
    }

    // MARK: Events

    /// A request wants an instance.
    public mutating func acquire(_ waiter: WaiterID, now: Instant) -> AcquireDecision {
        if isShuttingDown { return .reject(.shuttingDown) }
        if let index = leastLoadedReadyWithCapacity(now: now) {
            occupy(index, now: now)
            return .dispatch(instances[index].id)
        }
        if let backoffUntil, now < backoffUntil, instances.isEmpty {
            // Nothing runs and nothing may start yet: waiting could only end in a timeout.
            return .reject(.unavailable(retryAfter: backoffUntil - now))
        }
        if let retryAfter = allEjected(now: now) {
            // Every instance is ejected and no other may start: no healthy upstream (503 UH), as Envoy.
            return .reject(.ejected(retryAfter: retryAfter))
        }
        if queueDepth >= configuration.maxQueue { return .reject(.queueFull) }
        waiters.append(waiter)
        return .wait(starting: scaleOut(now: now))
    }

    /// A waiting request gave up (its timeout passed, or its client left). Returns whether it was waiting.
    public mutating func cancel(_ waiter: WaiterID) -> Bool {
        guard let index = waiters[waitersHead...].firstIndex(of: waiter) else { return false }
        waiters.remove(at: index)
        return true
    }

    /// A request finished with its instance.
    public mutating func release(_ id: InstanceID, now: Instant) -> [Action] {
        guard let index = instances.firstIndex(where: { $0.id == id }),
              case .ready(let inflight, _) = instances[index].state else { return [] }
        instances[index].state = .ready(inflight: max(0, inflight - 1), lastUsed: now)
        var actions: [Action] = []
        if !isEjected(id, now: now), let waiter = popWaiter() {
            occupy(index, now: now)
            actions.append(.dispatch(waiter, to: id, coldStart: false))
        }
        return actions
    }

    /// An instance accepts connections on its port.
    public mutating func instanceReady(_ id: InstanceID, now: Instant) -> [Action] {
        guard let index = instances.firstIndex(where: { $0.id == id }), isStarting(instances[index].state) else {
            return []
        }
        consecutiveStartFailures = 0
        backoffUntil = nil
        instances[index].state = .ready(inflight: 0, lastUsed: now)
        var actions: [Action] = []
        while case .ready(let inflight, _) = instances[index].state, inflight < configuration.concurrency,
              let waiter = popWaiter() {
            occupy(index, now: now)
            actions.append(.dispatch(waiter, to: id, coldStart: true))
        }
        return actions
    }

    /// An instance's process ended (crash, or after a stop). Unknown ids are ignored.
    public mutating func instanceExited(_ id: InstanceID, now: Instant) -> (failure: StartFailure?, actions: [Action]) {
        guard let index = instances.firstIndex(where: { $0.id == id }) else { return (nil, []) }
        let wasStarting = isStarting(instances[index].state)
        instances.remove(at: index)
        forget(id)
        if wasStarting {
            return (.exitedBeforeReady, startFailed(now: now))
        }
        // A ready instance crashed: replace it if anyone needs it.
        return (nil, replaceOrRefuse(now: now))
    }

    /// Connecting to a ready instance failed: it is stopped and replaced.
    public mutating func instanceUnhealthy(_ id: InstanceID, now: Instant) -> [Action] {
        guard let index = instances.firstIndex(where: { $0.id == id }) else { return [] }
        instances.remove(at: index)
        forget(id)
        return [.stop(id)] + replaceOrRefuse(now: now)
    }

    /// An instance answered (`status` nil: its connection closed without an answer). With outlier
    /// detection, enough errors in a row eject it — unless as many instances as allowed already are
    /// (`maxEjectionPercent`, at least one).
    /// When that leaves every instance out and no other may start, waiting requests are refused
    /// (503, no healthy upstream) rather than left to wait out the ejection.
    public mutating func instanceAnswered(_ id: InstanceID, status: Int?, now: Instant) -> [Action] {
        guard let policy = configuration.outlierDetection, instances.contains(where: { $0.id == id }),
              !isEjected(id, now: now) else { return [] }
        var tracker = health[id] ?? OutlierDetection.Tracker()
        defer { health[id] = tracker }
        guard tracker.record(status: status, now: now, policy: policy) else { return [] }
        let ejectedNow = ejectedUntil.values.count { $0 > now }
        guard ejectedNow < max(1, instances.count * policy.maxEjectionPercent / 100) else { return [] }
        ejectedUntil[id] = now + tracker.eject(now: now, policy: policy)
        guard let retryAfter = allEjected(now: now) else { return [] }
        var actions: [Action] = []
        while let waiter = popWaiter() { actions.append(.reject(waiter, .ejected(retryAfter: retryAfter))) }
        return actions
    }

    /// Every instance is ejected and no other may start: until when.
    private func allEjected(now: Instant) -> Duration? {
        guard !ejectedUntil.isEmpty, instances.count >= configuration.maxInstances,
              instances.allSatisfy({ !isStarting($0.state) && isEjected($0.id, now: now) }),
              let soonest = ejectedUntil.values.filter({ $0 > now }).min() else { return nil }
        return soonest - now
    }

    /// Instances ejected now, for the gauges and `describe`.
    public func ejected(now: Instant) -> [InstanceID] {
        ejectedUntil.filter { $0.value > now }.map(\.key)
    }

    /// Periodic housekeeping: startup timeouts, idle scale-down, the minimum number of instances,
    /// ejected instances coming back.
    public mutating func tick(now: Instant) -> (timedOut: [InstanceID], actions: [Action]) {
        if isShuttingDown { return ([], []) }
        var actions: [Action] = []
        var timedOut: [InstanceID] = []
        for entry in instances {
            if case .starting(let since) = entry.state, now - since >= configuration.startupTimeout {
                timedOut.append(entry.id)
            }
        }
        for id in timedOut {
            instances.removeAll { $0.id == id }
            forget(id)
            actions.append(.stop(id))
            actions += startFailed(now: now)
        }
        var readyIdle = instances.count - instances.count { isStarting($0.state) }
        for entry in instances where readyIdle > configuration.minInstances {
            if case .ready(0, let lastUsed) = entry.state, now - lastUsed >= configuration.idleTimeout {
                instances.removeAll { $0.id == entry.id }
                forget(entry.id)
                actions.append(.stop(entry.id))
                readyIdle -= 1
            }
        }
        // Ejections that ended: the instance serves again, first those waiting.
        for (id, until) in ejectedUntil where until <= now { ejectedUntil[id] = nil }
        actions += dispatchWaiting(now: now)
        // Requests that waited out a backoff get their instance now.
        actions += scaleOut(now: now).map(Action.start)
        actions += ensureMinimum(now: now)
        return (timedOut, actions)
    }

    /// Keeps at least `count` instances running from now on (starting them at once); used to warm a
    /// new spec's pool before traffic moves to it, and to set the floor back afterwards.
    public mutating func setMinimumInstances(_ count: Int, now: Instant) -> [Action] {
        configuration.minInstances = min(max(0, count), configuration.maxInstances)
        return ensureMinimum(now: now)
    }

    /// Starts that failed since the last instance became ready.
    public var startFailures: Int { consecutiveStartFailures }

    /// The function's spec was replaced or deleted: requests already admitted are still served
    /// (an instance is started for them if need be), but each instance stops as soon as it is idle.
    public mutating func retire(now: Instant) -> [Action] {
        configuration.minInstances = 0
        configuration.idleTimeout = .zero
        return tick(now: now).actions
    }

    /// Nothing running and nobody waiting: a retired pool can be forgotten.
    public var isDrained: Bool { instances.isEmpty && queueDepth == 0 }

    /// Stop everything: waiting requests are refused, every instance is stopped.
    public mutating func shutdown() -> [Action] {
        isShuttingDown = true
        var actions: [Action] = []
        while let waiter = popWaiter() { actions.append(.reject(waiter, .shuttingDown)) }
        actions += instances.map { .stop($0.id) }
        instances.removeAll()
        return actions
    }

    // MARK: Internals

    private func isStarting(_ state: InstanceState) -> Bool {
        if case .starting = state { return true }
        return false
    }

    private mutating func forget(_ id: InstanceID) {
        health[id] = nil
        ejectedUntil[id] = nil
    }

    private func isEjected(_ id: InstanceID, now: Instant) -> Bool {
        guard let until = ejectedUntil[id] else { return false }
        return until > now
    }

    /// Waiting requests go to instances with room (an ejection ended, say).
    private mutating func dispatchWaiting(now: Instant) -> [Action] {
        var actions: [Action] = []
        while queueDepth > 0, let index = leastLoadedReadyWithCapacity(now: now), let waiter = popWaiter() {
            occupy(index, now: now)
            actions.append(.dispatch(waiter, to: instances[index].id, coldStart: false))
        }
        return actions
    }

    private func leastLoadedReadyWithCapacity(now: Instant) -> Int? {
        var best: (index: Int, inflight: Int)?
        for (index, entry) in instances.enumerated() {
            guard case .ready(let inflight, _) = entry.state, inflight < configuration.concurrency else { continue }
            if !ejectedUntil.isEmpty, isEjected(entry.id, now: now) { continue }
            if best == nil || inflight < best!.inflight { best = (index, inflight) }
        }
        return best?.index
    }

    private mutating func occupy(_ index: Int, now: Instant) {
        if case .ready(let inflight, _) = instances[index].state {
            instances[index].state = .ready(inflight: inflight + 1, lastUsed: now)
        }
    }

    private mutating func popWaiter() -> WaiterID? {
        guard waitersHead < waiters.count else { return nil }
        let waiter = waiters[waitersHead]
        waitersHead += 1
        if waitersHead > 64, waitersHead * 2 > waiters.count {
            waiters.removeFirst(waitersHead)
            waitersHead = 0
        }
        return waiter
    }

    /// Starts instances while waiting requests outnumber what starting instances will absorb.
    private mutating func scaleOut(now: Instant) -> [InstanceID] {
        if let backoffUntil, now < backoffUntil { return [] }
        var started: [InstanceID] = []
        var starting = instances.count { isStarting($0.state) }
        while queueDepth > starting * configuration.concurrency, instances.count < configuration.maxInstances {
            started.append(addStartingInstance(now: now))
            starting += 1
        }
        return started
    }

    /// After an instance was lost: start replacements for waiting requests, or, when a backoff
    /// forbids starting and nothing else runs, refuse them rather than leave them stranded.
    private mutating func replaceOrRefuse(now: Instant) -> [Action] {
        if let backoffUntil, now < backoffUntil, instances.isEmpty {
            var actions: [Action] = []
            while let waiter = popWaiter() { actions.append(.reject(waiter, .unavailable(retryAfter: backoffUntil - now))) }
            return actions
        }
        return scaleOut(now: now).map(Action.start) + ensureMinimum(now: now)
    }

    private mutating func ensureMinimum(now: Instant) -> [Action] {
        if isShuttingDown { return [] }
        if let backoffUntil, now < backoffUntil { return [] }
        var actions: [Action] = []
        while instances.count < configuration.minInstances {
            actions.append(.start(addStartingInstance(now: now)))
        }
        return actions
    }

    private mutating func addStartingInstance(now: Instant) -> InstanceID {
        let id = nextInstanceID
        nextInstanceID += 1
        instances.append((id, .starting(since: now)))
        return id
    }

    /// A start failed: back off, and refuse the waiting requests unless another instance may still serve them.
    private mutating func startFailed(now: Instant) -> [Action] {
        consecutiveStartFailures += 1
        let exponent = min(consecutiveStartFailures - 1, 16)
        let backoff = min(configuration.initialBackoff * (1 << exponent), configuration.maxBackoff)
        backoffUntil = now + backoff
        guard instances.isEmpty else { return [] }
        var actions: [Action] = []
        while let waiter = popWaiter() { actions.append(.reject(waiter, .unavailable(retryAfter: backoff))) }
        return actions
    }
}
