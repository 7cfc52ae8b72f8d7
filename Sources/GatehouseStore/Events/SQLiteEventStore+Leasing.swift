import Foundation
import GatehouseCore
import GRDB

extension SQLiteEventStore {
    /// One transaction: for each trigger with free slots, its due rows (`due <= now`: pending ones
    /// and expired leases alike), oldest due first, become leased by `owner` until
    /// `now + leaseFor`. The result is ordered oldest due first across triggers. A row whose event
    /// cannot be read is taken out of the queue (a `dropped` outcome) and reported, so it cannot
    /// hold a trigger's slots forever.
    public func lease(owner: String, now: Date, leaseFor: Duration, slots: [TriggerRef: Int]) async throws(StoreError) -> [LeasedDelivery] {
        let wanted = slots.filter { $0.value > 0 }.map { ($0.key.description, $0.value) }.sorted { $0.0 < $1.0 }
        guard !wanted.isEmpty else { return [] }
        let at = EventRowCoding.seconds(now), until = at + EventRowCoding.seconds(leaseFor)
        let (leased, problems) = try await write(durable: false) { db in
            let select = try db.cachedStatement(sql: """
                SELECT d.id, d.event, d.trigger, d.phase, d.due, d.attempts, d.acceptedAt, d.override, d.overrideSize,
                  e.broker, e.body, e.eventId, e.type
                FROM delivery d LEFT JOIN event e ON e.id = d.event
                WHERE d.trigger = ? AND d.due <= ? ORDER BY d.due, d.id LIMIT ?
                """)
            let mark = try db.cachedStatement(sql: "UPDATE delivery SET owner = ?, due = ? WHERE id = ?")
            var leased: [(due: Double, delivery: LeasedDelivery)] = []
            var problems: [String] = []
            for (trigger, count) in wanted {
                for row in try Row.fetchAll(select, arguments: [trigger, at, count]) {
                    do {
                        let delivery = try Self.leasedDelivery(row)
                        try mark.execute(arguments: [owner, until, delivery.id])
                        leased.append((try row.checked("due"), delivery))
                    } catch let unreadable as StoredBlobReader.Unreadable {
                        problems.append(try Self.quarantine(row, because: unreadable, now: now, db))
                    }
                }
            }
            return (leased.sorted { ($0.due, $0.delivery.id) < ($1.due, $1.delivery.id) }.map(\.delivery), problems)
        }
        report(problems)
        return leased
    }

    private static func leasedDelivery(_ row: Row) throws(StoredBlobReader.Unreadable) -> LeasedDelivery {
        let phaseName: String = try row.checked("phase")
        guard let phase = LeasedDelivery.Phase(rawValue: phaseName) else { throw .init(description: "phase \"\(phaseName.prefix(40))\"") }
        let body: Data? = try row.checked(phase == .deadLetter ? "override" : "body")
        guard let body else { throw .init(description: phase == .deadLetter ? "no dead-letter event" : "its event row is missing") }
        let attempts: Int = try row.checked("attempts")
        return LeasedDelivery(
            id: try row.checked("id"), broker: try EventRowCoding.broker(try row.checked("broker")),
            trigger: try EventRowCoding.trigger(try row.checked("trigger")), event: try EventRowCoding.event(body), phase: phase,
            attempts: max(0, attempts), acceptedAt: Date(timeIntervalSince1970: try row.checked("acceptedAt")))
    }

    /// Removes an unreadable delivery row (a hostile or damaged file) and records why.
    private static func quarantine(_ row: Row, because unreadable: StoredBlobReader.Unreadable, now: Date, _ db: Database) throws -> String {
        let id: Int64 = (try? row.checked("id")) ?? 0
        let trigger: String = (try? row.checked("trigger")) ?? "?"
        try remove(delivery: id, event: try? row.checked("event"), overrideSize: (try? row.checked("overrideSize")) ?? 0, db)
        try recordOutcome(
            trigger: trigger, at: now, eventId: (try? row.checked("eventId")) ?? "?", eventType: (try? row.checked("type")) ?? "?",
            result: "dropped", status: nil, reason: "unreadable stored delivery: \(unreadable)", db)
        return "delivery \(id) for \(trigger) could not be read (\(unreadable)); it was dropped"
    }

    /// Deletes a delivery, and its event when no other delivery needs it, keeping the totals.
    static func remove(delivery: DeliveryID, event: Int64?, overrideSize: Int, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM delivery WHERE id = ?", arguments: [delivery])
        guard db.changesCount > 0 else { return }
        var bytes = overrideSize
        if let event, try !(Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM delivery WHERE event = ?)", arguments: [event]) ?? false) {
            let size = try Int.fetchOne(db, sql: "DELETE FROM event WHERE id = ? RETURNING size", arguments: [event]) ?? 0
            bytes += size
        }
        try PendingTotals.add(pending: -1, bytes: -bytes, db)
    }

    static func tally(_ trigger: String, delivered: Int = 0, retried: Int = 0, deadLettered: Int = 0, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO trigger_stats (trigger, delivered, retried, deadLettered) VALUES (?, ?, ?, ?)
                ON CONFLICT (trigger) DO UPDATE SET delivered = delivered + excluded.delivered,
                  retried = retried + excluded.retried, deadLettered = deadLettered + excluded.deadLettered
                """,
            arguments: [trigger, delivered, retried, deadLettered])
    }

    static func recordOutcome(
        trigger: String, at: Date, eventId: String, eventType: String, result: String, status: Int?, reason: String?, _ db: Database
    ) throws {
        try db.cachedStatement(sql: """
            INSERT INTO delivery_outcome (trigger, at, eventId, eventType, result, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [trigger, EventRowCoding.seconds(at), eventId, eventType, result, status, reason.map { String($0.prefix(1024)) }])
    }

    /// Every delivery and call `owner` leased becomes due at once. Their `due` becomes their
    /// acceptance time: they were due already when leased, and so they go first, oldest first.
    public func releaseLeases(owner: String) async throws(StoreError) {
        try await write(durable: false) { db in
            try db.execute(sql: "UPDATE delivery SET owner = NULL, due = acceptedAt WHERE owner = ?", arguments: [owner])
            try db.execute(sql: "UPDATE async_call SET owner = NULL, due = acceptedAt WHERE owner = ? AND done = 0", arguments: [owner])
        }
    }

    /// The earliest `due` among `triggers`' deliveries: a pending one's first or retry time, or a
    /// leased one's lease expiry (when it is due again if never settled). Past times mean "now".
    public func nextDue(for triggers: Set<TriggerRef>) async throws(StoreError) -> Date? {
        guard !triggers.isEmpty else { return nil }
        let names = triggers.map(\.description)
        return try await read { db in
            let statement = try db.cachedStatement(sql: "SELECT MIN(due) FROM delivery WHERE trigger = ?")
            let earliest = try names.compactMap { try Double.fetchOne(statement, arguments: [$0]) }.min()
            return earliest.map { Date(timeIntervalSince1970: $0) }
        }
    }

    /// Deletes the deliveries (pending or leased: a settle then finds nothing) of every trigger not
    /// in `triggers`, the events only they needed, and those triggers' counts and outcomes — a
    /// Trigger created again under the same name starts from zero.
    @discardableResult
    public func dropDeliveries(keeping triggers: Set<TriggerRef>) async throws(StoreError) -> Int {
        let kept = triggers.map(\.description)
        let placeholders = kept.map { _ in "?" }.joined(separator: ", ")
        return try await drop(where: kept.isEmpty ? "1" : "trigger NOT IN (\(placeholders))", kept)
    }

    @discardableResult
    public func dropDeliveries(of triggers: Set<TriggerRef>) async throws(StoreError) -> Int {
        guard !triggers.isEmpty else { return 0 }
        let names = triggers.map(\.description)
        return try await drop(where: "trigger IN (\(names.map { _ in "?" }.joined(separator: ", ")))", names)
    }

    /// One node per file: the triggers it does not know are deleted ones.
    public var sharedAcrossNodes: Bool { false }

    private func drop(where notKept: String, _ names: [String]) async throws(StoreError) -> Int {
        try await write(durable: false) { db in
            let arguments = StatementArguments(names)
            try db.execute(sql: "DELETE FROM delivery WHERE \(notKept)", arguments: arguments)
            let dropped = db.changesCount
            try db.execute(sql: "DELETE FROM trigger_stats WHERE \(notKept)", arguments: arguments)
            try db.execute(sql: "DELETE FROM delivery_outcome WHERE \(notKept)", arguments: arguments)
            if dropped > 0 {
                try db.execute(sql: "DELETE FROM event WHERE NOT EXISTS (SELECT 1 FROM delivery WHERE delivery.event = event.id)")
                try PendingTotals.recount(db)
            }
            return dropped
        }
    }
}
