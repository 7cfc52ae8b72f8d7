import GRDB

/// Undelivered deliveries plus pending calls, and their stored bytes — what `EventStoreBounds`
/// limits. Kept in the one-row `event_totals` table, changed in the same transaction as the
/// rows it counts: every process sharing the file sees the same numbers, and checking the bounds
/// reads one row instead of counting 100 000.
///
/// Bytes are what the store holds for pending work: each event's body once (however many
/// triggers it has), each dead-letter-phase event, each pending call's request.
public struct PendingTotals: Sendable, Hashable {
    public var pending: Int
    public var bytes: Int

    public init(pending: Int, bytes: Int) {
        self.pending = pending
        self.bytes = bytes
    }

    /// Whether `pending` more items of `bytes` stay within `bounds`.
    func admits(pending more: Int, bytes moreBytes: Int, within bounds: EventStoreBounds) -> Bool {
        // Totals read from a shared database are not trusted not to overflow.
        let (count, countOverflow) = pending.addingReportingOverflow(more)
        let (size, sizeOverflow) = bytes.addingReportingOverflow(moreBytes)
        return !countOverflow && !sizeOverflow && count <= bounds.maxPending && size <= bounds.maxPendingBytes
    }

    static func read(_ db: Database) throws -> PendingTotals {
        let row = try Row.fetchOne(db, sql: "SELECT pending, bytes FROM event_totals WHERE id = 1")
        // A damaged row counts as empty; `recount` at open repairs it.
        let pending = (try? row?.checked("pending", as: Int.self)) ?? 0
        let bytes = (try? row?.checked("bytes", as: Int.self)) ?? 0
        return PendingTotals(pending: max(0, pending), bytes: max(0, bytes))
    }

    /// Adds to the stored totals (negative to take away).
    static func add(pending: Int, bytes: Int, _ db: Database) throws {
        guard pending != 0 || bytes != 0 else { return }
        try db.execute(
            sql: "UPDATE event_totals SET pending = MAX(0, pending + ?), bytes = MAX(0, bytes + ?) WHERE id = 1",
            arguments: [pending, bytes])
    }

    /// Counts from the rows themselves and stores the result: at open (a file edited by hand, or
    /// written by an older build, gets true numbers), and after bulk deletes.
    @discardableResult
    static func recount(_ db: Database) throws -> PendingTotals {
        let row = try Row.fetchOne(db, sql: """
            SELECT (SELECT COUNT(*) FROM delivery) + (SELECT COUNT(*) FROM async_call WHERE done = 0) AS pending,
              (SELECT COALESCE(SUM(size), 0) FROM event) + (SELECT COALESCE(SUM(overrideSize), 0) FROM delivery)
                + (SELECT COALESCE(SUM(size), 0) FROM async_call WHERE done = 0) AS bytes
            """)
        let totals = PendingTotals(
            pending: max(0, (try? row?.checked("pending", as: Int.self)) ?? 0), bytes: max(0, (try? row?.checked("bytes", as: Int.self)) ?? 0))
        try db.execute(sql: "INSERT OR REPLACE INTO event_totals (id, pending, bytes) VALUES (1, ?, ?)", arguments: [totals.pending, totals.bytes])
        return totals
    }
}

extension Int {
    /// `self + other`, held at the ends instead of trapping: sizes and counts read from a shared
    /// database are not trusted to be sane.
    func clampedAdding(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        // -Int.max at the bottom, so the result can always be negated.
        return overflow ? (other > 0 ? Int.max : -Int.max) : Swift.max(-Int.max, sum)
    }
}
