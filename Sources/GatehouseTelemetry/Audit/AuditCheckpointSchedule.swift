/// When the audit log signs a checkpoint: once `everyRecords` records are unsigned, or `interval`
/// after the last checkpoint when any is. A plain value, tested with instants it is given.
public struct AuditCheckpointSchedule: Sendable, Hashable {
    /// Default 1000.
    public var everyRecords: Int
    /// Default 60 s.
    public var interval: Duration

    public init(everyRecords: Int = 1000, interval: Duration = .seconds(60)) {
        precondition(everyRecords > 0 && interval > .zero, "a checkpoint schedule needs a positive count and interval")
        self.everyRecords = everyRecords
        self.interval = interval
    }

    /// Whether to sign now, with `unsigned` records after the last checkpoint (made at `last`).
    public func isDue(unsigned: Int64, last: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Bool {
        unsigned > 0 && (unsigned >= Int64(everyRecords) || now - last >= interval)
    }
}
