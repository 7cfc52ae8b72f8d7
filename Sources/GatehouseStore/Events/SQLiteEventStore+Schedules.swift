import Foundation
import GatehouseCore
import GRDB

extension SQLiteEventStore {
    /// Claims `(schedule, minute)` and stores `events`, in one durable transaction (group-committed
    /// with accepts). The claim is the `schedule_fired` primary key: of two processes, or a
    /// process and its restart, exactly one inserts it. A minute older than every one of the
    /// schedule's kept marks (`firedMinutesKept`) counts as fired: its mark may have been pruned.
    ///
    /// Ticks are not refused by `EventStoreBounds` (there is no caller to answer 503 to, and a
    /// tick is one event per PingSource per minute, bounded by the config); they count toward the
    /// totals, so ingest sees a full store sooner.
    public func fire(schedule: String, minute: Int64, events: [NewEvent], now: Date) async throws(StoreError) -> Bool {
        let prepared = events.map(PreparedEvent.init).filter { !$0.triggers.isEmpty }
        guard case .fired(let fired) = try await durable(.tick(schedule: schedule, minute: minute, events: prepared, now: now)) else { return false }
        return fired
    }

    /// Inserts the mark; false when it was there (or is older than the kept ones). Keeps the
    /// newest `firedMinutesKept` marks of the schedule.
    static func markFired(schedule: String, minute: Int64, now: Date, _ db: Database) throws -> Bool {
        let kept = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, MIN(minute) AS oldest FROM schedule_fired WHERE schedule = ?", arguments: [schedule])
        if let kept, let count: Int = try? kept.checked("n"), count >= firedMinutesKept,
           let oldest: Int64 = try? kept.checked("oldest"), minute < oldest {
            return false
        }
        try db.execute(
            sql: "INSERT OR IGNORE INTO schedule_fired (schedule, minute, at) VALUES (?, ?, ?)",
            arguments: [schedule, minute, EventRowCoding.seconds(now)])
        guard db.changesCount > 0 else { return false }
        try db.execute(
            sql: """
                DELETE FROM schedule_fired WHERE schedule = ? AND minute < (
                  SELECT minute FROM schedule_fired WHERE schedule = ? ORDER BY minute DESC LIMIT 1 OFFSET ?)
                """,
            arguments: [schedule, schedule, firedMinutesKept - 1])
        return true
    }

    public func lastFired(schedule: String) async throws(StoreError) -> Int64? {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT MAX(minute) FROM schedule_fired WHERE schedule = ?", arguments: [schedule]) }
    }
}
