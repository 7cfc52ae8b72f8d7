import Foundation
import GatehouseCore

/// The seam durable event delivery goes through: the events a Broker accepted with a delivery row
/// per matching Trigger, the leases dispatchers take on due deliveries, their outcomes, the
/// schedules that fired, and async calls with their results. SQLite in the state directory on one
/// node (`SQLiteEventStore`); PostgreSQL (row leases with `FOR UPDATE SKIP LOCKED`) for a cluster.
///
/// **Durability.** `accept`, `fire` and `acceptCall` are durable before they return: the caller
/// answers 202 only after. Concurrent calls are group-committed (one transaction, one fsync, for
/// all that arrived while the previous commit ran).
///
/// **At least once.** A leased delivery that is never settled (its dispatcher died) is due again
/// once its lease expires, or at once after `releaseLeases(owner:)` — what a node does at start
/// for the leases it held before a crash.
///
/// **Bounds.** Pending work is bounded (`EventStoreBounds`): `accept` refuses past them rather than
/// growing without limit; dead letters, outcomes and call results are pruned to their bounds.
public protocol EventStore: Sendable {
    /// Stores the events with one pending delivery per listed trigger, durably; `.full` (nothing
    /// stored) when the pending bounds would be passed.
    func accept(_ events: [NewEvent], now: Date) async throws(StoreError) -> AcceptOutcome
    /// Leases due deliveries (pending with `due <= now`, or leased with an expired lease), oldest
    /// due first, at most `slots[trigger]` for each trigger listed (a trigger not listed — paused,
    /// deleted — gets none), marking them leased by `owner` until `now + leaseFor`.
    func lease(owner: String, now: Date, leaseFor: Duration, slots: [TriggerRef: Int]) async throws(StoreError) -> [LeasedDelivery]
    /// Records an attempt's outcome for a delivery `owner` leased (a delivery no longer leased by
    /// `owner` is left alone: another node took it over).
    func settle(_ delivery: DeliveryID, owner: String, outcome: DeliveryOutcome, now: Date) async throws(StoreError)
    /// Makes every delivery and call leased by `owner` due now.
    func releaseLeases(owner: String) async throws(StoreError)
    /// When the next pending delivery is due (nil: none pending), for triggers in `triggers`.
    func nextDue(for triggers: Set<TriggerRef>) async throws(StoreError) -> Date?
    /// Deletes the pending deliveries of triggers not in `triggers` (deleted ones); returns how many.
    @discardableResult
    func dropDeliveries(keeping triggers: Set<TriggerRef>) async throws(StoreError) -> Int
    /// Deletes the pending deliveries of `triggers` (deleted ones); returns how many.
    @discardableResult
    func dropDeliveries(of triggers: Set<TriggerRef>) async throws(StoreError) -> Int
    /// Whether other nodes accept into this store too (PostgreSQL): a node may then drop only
    /// triggers it saw deleted, never "every trigger it does not know".
    var sharedAcrossNodes: Bool { get }

    /// Undelivered deliveries per trigger and the acceptance time of each one's oldest.
    func backlog() async throws(StoreError) -> [TriggerRef: Backlog]
    /// A trigger's counts since it was created and its newest outcomes (newest first, at most `limit`).
    func deliveryHistory(of trigger: TriggerRef, limit: Int) async throws(StoreError) -> DeliveryHistory
    /// Dead-lettered events, newest first; nil broker: all.
    func deadLetters(broker: BrokerRef?, limit: Int) async throws(StoreError) -> [DeadLetter]

    /// A schedule's tick: stores `events` (as `accept`) and marks `(schedule, minute)` fired, in one
    /// transaction; false (nothing stored) when that minute already fired — on this node or another.
    func fire(schedule: String, minute: Int64, events: [NewEvent], now: Date) async throws(StoreError) -> Bool
    /// The newest minute `schedule` fired (epoch minutes), nil: never.
    func lastFired(schedule: String) async throws(StoreError) -> Int64?

    /// Stores an async call, durably; `.full` past the bounds.
    func acceptCall(_ call: AsyncCall, now: Date) async throws(StoreError) -> AcceptOutcome
    /// Leases pending calls (as `lease`), oldest first.
    func leaseCalls(owner: String, now: Date, leaseFor: Duration, limit: Int) async throws(StoreError) -> [AsyncCall]
    /// Stores a call's result, kept until `keepUntil`.
    func complete(call id: String, owner: String, result: AsyncCallResult, keepUntil: Date) async throws(StoreError)
    /// A call's state: pending, running, or done with its result; nil when unknown or expired.
    func call(_ id: String, now: Date) async throws(StoreError) -> AsyncCallState?

    /// Drops expired call results and trims dead letters and outcomes to their bounds.
    func prune(now: Date) async throws(StoreError)
}

/// `namespace/name` of a Broker.
public struct BrokerRef: Hashable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }
    public var description: String { "\(namespace)/\(name)" }
}

/// `namespace/name` of a Trigger.
public struct TriggerRef: Hashable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }
    public var description: String { "\(namespace)/\(name)" }
}

/// An event to store, with the triggers it is for (matched by the caller against the config it
/// accepted the event under). Listing none stores it with nothing to deliver (its broker has no
/// matching trigger): it is acknowledged and forgotten, as Knative's broker does.
public struct NewEvent: Sendable, Hashable {
    public var broker: BrokerRef
    public var event: CloudEvent
    public var triggers: [TriggerRef]
    public init(broker: BrokerRef, event: CloudEvent, triggers: [TriggerRef]) {
        self.broker = broker
        self.event = event
        self.triggers = triggers
    }
}

public enum AcceptOutcome: Sendable, Hashable {
    case accepted
    /// Over `EventStoreBounds`; nothing was stored.
    case full
}

public struct EventStoreBounds: Sendable, Hashable {
    /// Undelivered deliveries plus pending calls, default 100 000.
    public var maxPending: Int
    /// Their stored bytes (event data, call bodies), default 256 MiB.
    public var maxPendingBytes: Int
    /// Dead letters kept for `gatehouse events dead-letters`, default 10 000.
    public var maxDeadLetters: Int
    /// Outcomes kept per trigger for `describe trigger`, default 50.
    public var outcomesPerTrigger: Int
    /// Async call results kept (until they expire), default 10 000; past it the oldest go first.
    public var maxKeptResults: Int
    /// Their bytes, default 256 MiB.
    public var maxKeptResultBytes: Int
    /// A dead letter's data kept for `gatehouse events dead-letters` (the sink gets it whole), default 4 KiB.
    public var deadLetterDataBytes: Int

    public init(
        maxPending: Int = 100_000, maxPendingBytes: Int = 256 << 20, maxDeadLetters: Int = 10_000, outcomesPerTrigger: Int = 50,
        maxKeptResults: Int = 10_000, maxKeptResultBytes: Int = 256 << 20, deadLetterDataBytes: Int = 4096
    ) {
        self.maxPending = maxPending
        self.maxPendingBytes = maxPendingBytes
        self.maxDeadLetters = maxDeadLetters
        self.outcomesPerTrigger = outcomesPerTrigger
        self.maxKeptResults = maxKeptResults
        self.maxKeptResultBytes = maxKeptResultBytes
        self.deadLetterDataBytes = deadLetterDataBytes
    }
}

public typealias DeliveryID = Int64

/// A delivery a dispatcher holds the lease on.
public struct LeasedDelivery: Sendable, Hashable {
    public enum Phase: String, Sendable, Hashable {
        /// To the trigger's subscriber.
        case subscriber
        /// To its dead-letter sink, after the subscriber's attempts ran out.
        case deadLetter
    }

    public var id: DeliveryID
    public var broker: BrokerRef
    public var trigger: TriggerRef
    /// In the dead-letter phase: with `knativeerrorcode`, `knativeerrordest`, `knativeerrordata` set.
    public var event: CloudEvent
    public var phase: Phase
    /// Attempts already made in this phase (0 for the first).
    public var attempts: Int
    public var acceptedAt: Date

    public init(id: DeliveryID, broker: BrokerRef, trigger: TriggerRef, event: CloudEvent, phase: Phase, attempts: Int, acceptedAt: Date) {
        self.id = id
        self.broker = broker
        self.trigger = trigger
        self.event = event
        self.phase = phase
        self.attempts = attempts
        self.acceptedAt = acceptedAt
    }
}

/// What became of one attempt.
public enum DeliveryOutcome: Sendable, Hashable {
    /// Done (2xx).
    case delivered(status: Int)
    /// Try again at `at`.
    case retry(at: Date, status: Int?, reason: String)
    /// Attempts ran out (or the status is not retried): record a dead letter; with `toSink`, the
    /// delivery continues in the dead-letter phase with `event` (the extensions set) due now.
    case deadLetter(event: CloudEvent, status: Int?, reason: String, toSink: Bool)
    /// Give up without a dead letter (the dead-letter sink itself failed, the trigger is gone).
    case dropped(reason: String)
}

public struct Backlog: Sendable, Hashable {
    public var count: Int
    public var oldestAcceptedAt: Date?
    public init(count: Int, oldestAcceptedAt: Date?) {
        self.count = count
        self.oldestAcceptedAt = oldestAcceptedAt
    }
}

public struct DeliveryHistory: Sendable, Hashable {
    public struct Outcome: Sendable, Hashable {
        public var at: Date
        public var eventID: String
        public var eventType: String
        /// `delivered`, `retried`, `dead-lettered`, `dropped`.
        public var result: String
        public var status: Int?
        public var reason: String?
        public init(at: Date, eventID: String, eventType: String, result: String, status: Int?, reason: String?) {
            self.at = at
            self.eventID = eventID
            self.eventType = eventType
            self.result = result
            self.status = status
            self.reason = reason
        }
    }

    public var delivered: Int
    public var retried: Int
    public var deadLettered: Int
    public var pending: Int
    public var recent: [Outcome]
    public init(delivered: Int, retried: Int, deadLettered: Int, pending: Int, recent: [Outcome]) {
        self.delivered = delivered
        self.retried = retried
        self.deadLettered = deadLettered
        self.pending = pending
        self.recent = recent
    }
}

public struct DeadLetter: Sendable, Hashable {
    public var at: Date
    public var broker: BrokerRef
    public var trigger: TriggerRef
    /// With the `knativeerror*` extensions.
    public var event: CloudEvent
    public var status: Int?
    public var reason: String
    /// Whether it was sent on to a dead-letter sink (false: kept here only).
    public var sentToSink: Bool
    public init(at: Date, broker: BrokerRef, trigger: TriggerRef, event: CloudEvent, status: Int?, reason: String, sentToSink: Bool) {
        self.at = at
        self.broker = broker
        self.trigger = trigger
        self.event = event
        self.status = status
        self.reason = reason
        self.sentToSink = sentToSink
    }
}
