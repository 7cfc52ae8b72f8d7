import Foundation
import GatehouseCore
import Logging
import PostgresNIO

extension PostgresEventStore {
    /// One transaction: for each trigger with free slots, its due rows (`due <= now`: pending ones
    /// and expired leases alike), oldest due first, `FOR UPDATE SKIP LOCKED` — rows another node
    /// is leasing or settling right now are passed over, not waited for — become leased by `owner`
    /// until `now + leaseFor`. The result is ordered oldest due first across triggers. A row whose
    /// event cannot be read is taken out of the queue (a `dropped` outcome) and reported.
    public func lease(owner: String, now: Date, leaseFor: Duration, slots: [TriggerRef: Int]) async throws(StoreError) -> [LeasedDelivery] {
        let wanted = slots.filter { $0.value > 0 }.map { ($0.key.description, $0.value) }.sorted { $0.0 < $1.0 }
        guard !wanted.isEmpty else { return [] }
        let at = EventRowCoding.seconds(now), until = at + EventRowCoding.seconds(leaseFor)
        let (leased, problems) = try await transaction { connection, logger in
            var leased: [(due: Double, delivery: LeasedDelivery)] = []
            var problems: [String] = []
            var freed = PendingTotals(pending: 0, bytes: 0)
            for (trigger, count) in wanted {
                let rows = try await connection.query(
                    """
                    SELECT d.id, d.event, d.trigger, d.phase, d.due, d.attempts, d.accepted_at, d.override, d.override_size,
                      e.broker, e.body, e.event_id, e.type
                    FROM gatehouse_delivery d LEFT JOIN gatehouse_event e ON e.id = d.event
                    WHERE d.trigger = \(trigger) AND d.due <= \(at) ORDER BY d.due, d.id LIMIT \(count)
                    FOR UPDATE OF d SKIP LOCKED
                    """, logger: logger)
                var taken: [Int64] = []
                var unreadable: [(DeliveryRow, StoredBlobReader.Unreadable)] = []
                for try await row in rows {
                    let row = try DeliveryRow(row.makeRandomAccess())
                    do throws(StoredBlobReader.Unreadable) {
                        leased.append((row.due, try row.leased()))
                        taken.append(row.id)
                    } catch {
                        unreadable.append((row, error))
                    }
                }
                if !taken.isEmpty {
                    try await connection.query(
                        "UPDATE gatehouse_delivery SET owner = \(owner), due = \(until) WHERE id = ANY(\(taken)::bigint[])", logger: logger)
                }
                for (row, why) in unreadable {
                    let removed = try await Self.remove(delivery: row.id, event: row.event, overrideSize: row.overrideSize, connection, logger: logger)
                    freed.pending += removed.pending
                    freed.bytes = freed.bytes.clampedAdding(removed.bytes)
                    try await Self.recordOutcome(
                        trigger: row.trigger, at: now, eventId: row.eventId ?? "?", eventType: row.eventType ?? "?", result: "dropped", status: nil,
                        reason: "unreadable stored delivery: \(why)", connection, logger: logger)
                    problems.append("delivery \(row.id) for \(row.trigger) could not be read (\(why)); it was dropped")
                }
            }
            try await Self.addTotals(pending: -freed.pending, bytes: -freed.bytes, connection, logger: logger)
            return (leased.sorted { ($0.due, $0.delivery.id) < ($1.due, $1.delivery.id) }.map(\.delivery), problems)
        }
        report(problems)
        return leased
    }

    /// Deletes a delivery, and its event when no other delivery needs it; returns what that takes
    /// from the totals (the caller subtracts it, after its row locks). The event row is locked
    /// before the check, so of two nodes settling an event's last two deliveries at once the
    /// second sees the first's delete and removes the event.
    static func remove(delivery: DeliveryID, event: Int64?, overrideSize: Int, _ connection: PostgresConnection, logger: Logger) async throws -> PendingTotals {
        guard try await connection.count("DELETE FROM gatehouse_delivery WHERE id = \(delivery) RETURNING id", logger: logger) > 0 else {
            return PendingTotals(pending: 0, bytes: 0)
        }
        var bytes = overrideSize
        if let event {
            _ = try await connection.count("SELECT id FROM gatehouse_event WHERE id = \(event) FOR UPDATE", logger: logger)
            for try await size in try await connection.query(
                """
                DELETE FROM gatehouse_event WHERE id = \(event)
                  AND NOT EXISTS (SELECT 1 FROM gatehouse_delivery WHERE event = \(event)) RETURNING size
                """, logger: logger).decode(Int.self) {
                bytes = bytes.clampedAdding(size)
            }
        }
        return PendingTotals(pending: 1, bytes: bytes)
    }

    static func tally(_ trigger: String, delivered: Int = 0, retried: Int = 0, deadLettered: Int = 0, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO gatehouse_trigger_stats AS s (trigger, delivered, retried, dead_lettered)
            VALUES (\(trigger), \(delivered), \(retried), \(deadLettered))
            ON CONFLICT (trigger) DO UPDATE SET delivered = s.delivered + excluded.delivered,
              retried = s.retried + excluded.retried, dead_lettered = s.dead_lettered + excluded.dead_lettered
            """, logger: logger)
    }

    static func recordOutcome(
        trigger: String, at: Date, eventId: String, eventType: String, result: String, status: Int?, reason: String?,
        _ connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO gatehouse_delivery_outcome (trigger, at, event_id, event_type, result, status, reason)
            VALUES (\(trigger), \(EventRowCoding.seconds(at)), \(eventId), \(eventType), \(result), \(status), \(reason.map { String($0.prefix(1024)) }))
            """, logger: logger)
    }

    /// Every delivery and call `owner` leased becomes due at once, first (their `due` becomes
    /// their acceptance time). A node calls it at start with its name: unique among live nodes.
    public func releaseLeases(owner: String) async throws(StoreError) {
        try await transaction { connection, logger in
            try await connection.query(
                "UPDATE gatehouse_delivery SET owner = NULL, due = accepted_at WHERE owner = \(owner)", logger: logger)
            try await connection.query(
                "UPDATE gatehouse_async_call SET owner = NULL, due = accepted_at WHERE owner = \(owner) AND NOT done", logger: logger)
        }
    }

    /// The earliest `due` among `triggers`' deliveries, any node's leases included (a lease's
    /// expiry is when its delivery is due again if never settled). One index probe per trigger.
    public func nextDue(for triggers: Set<TriggerRef>) async throws(StoreError) -> Date? {
        guard !triggers.isEmpty else { return nil }
        let names = triggers.map(\.description)
        return try await read { connection, logger in
            let rows = try await connection.query(
                """
                SELECT min(first.due) FROM unnest(\(names)::text[]) AS t(name),
                  LATERAL (SELECT due FROM gatehouse_delivery WHERE trigger = t.name ORDER BY due LIMIT 1) AS first
                """, logger: logger)
            for try await earliest in rows.decode(Double?.self) { return earliest.map { Date(timeIntervalSince1970: $0) } }
            return nil
        }
    }

    /// Deletes the deliveries (pending or leased) of every trigger not in `triggers`, the events
    /// only they needed, and those triggers' counts and outcomes; the totals lose exactly what
    /// was deleted. On a shared store a node never calls this (it would delete what other nodes
    /// accept for triggers it has not seen yet): it drops the triggers it saw go (`dropDeliveries(of:)`).
    @discardableResult
    public func dropDeliveries(keeping triggers: Set<TriggerRef>) async throws(StoreError) -> Int {
        try await drop(matching: "NOT (trigger = ANY($1::text[]))", triggers.map(\.description))
    }

    /// Deletes the deliveries, counts and outcomes of `triggers` only (deleted ones), as above.
    @discardableResult
    public func dropDeliveries(of triggers: Set<TriggerRef>) async throws(StoreError) -> Int {
        guard !triggers.isEmpty else { return 0 }
        return try await drop(matching: "trigger = ANY($1::text[])", triggers.map(\.description))
    }

    /// `condition`: on the `trigger` column, with the names as `$1`.
    private func drop(matching condition: String, _ names: [String]) async throws(StoreError) -> Int {
        @Sendable func query(_ sql: String) -> PostgresQuery {
            var bindings = PostgresBindings()
            bindings.append(names)
            return PostgresQuery(unsafeSQL: sql, binds: bindings)
        }
        return try await transaction { connection, logger in
            // Takes its turn with the mesh's settle batches: it locks counts before events.
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.settleLock))", logger: logger)
            var dropped = 0, bytes = 0
            var events: Set<Int64> = []
            for try await (event, size) in try await connection.query(
                query("DELETE FROM gatehouse_delivery WHERE \(condition) RETURNING event, override_size"),
                logger: logger).decode((Int64, Int).self) {
                dropped += 1
                bytes = bytes.clampedAdding(size)
                events.insert(event)
            }
            try await connection.query(query("DELETE FROM gatehouse_trigger_stats WHERE \(condition)"), logger: logger)
            try await connection.query(query("DELETE FROM gatehouse_delivery_outcome WHERE \(condition)"), logger: logger)
            if !events.isEmpty {
                let ids = events.sorted()
                // Locked in id order (as `remove` locks one), then deleted when nothing needs them.
                _ = try await connection.count("SELECT id FROM gatehouse_event WHERE id = ANY(\(ids)::bigint[]) ORDER BY id FOR UPDATE", logger: logger)
                for try await size in try await connection.query(
                    """
                    DELETE FROM gatehouse_event e WHERE e.id = ANY(\(ids)::bigint[])
                      AND NOT EXISTS (SELECT 1 FROM gatehouse_delivery d WHERE d.event = e.id) RETURNING e.size
                    """, logger: logger).decode(Int.self) {
                    bytes = bytes.clampedAdding(size)
                }
            }
            try await Self.addTotals(pending: -dropped, bytes: -bytes, connection, logger: logger)
            return dropped
        }
    }
}

/// A `gatehouse_delivery` row joined with its event, as `lease` reads it. The columns PostgreSQL
/// types and constrains decode here; the blobs are decoded by `leased()`, which may find them
/// unreadable.
struct DeliveryRow {
    let id: DeliveryID
    let event: Int64
    let trigger: String
    let phase: String
    let due: Double
    let attempts: Int
    let acceptedAt: Double
    let override: Data?
    let overrideSize: Int
    let broker: String?
    let body: Data?
    let eventId: String?
    let eventType: String?

    init(_ row: PostgresRandomAccessRow) throws {
        id = try row["id"].decode(Int64.self)
        event = try row["event"].decode(Int64.self)
        trigger = try row["trigger"].decode(String.self)
        phase = try row["phase"].decode(String.self)
        due = try row["due"].decode(Double.self)
        attempts = try row["attempts"].decode(Int.self)
        acceptedAt = try row["accepted_at"].decode(Double.self)
        override = try row["override"].decode(Data?.self)
        overrideSize = try row["override_size"].decode(Int.self)
        broker = try row["broker"].decode(String?.self)
        body = try row["body"].decode(Data?.self)
        eventId = try row["event_id"].decode(String?.self)
        eventType = try row["type"].decode(String?.self)
    }

    func leased() throws(StoredBlobReader.Unreadable) -> LeasedDelivery {
        guard let phase = LeasedDelivery.Phase(rawValue: phase) else { throw .init(description: "phase \"\(phase.prefix(40))\"") }
        guard let body = phase == .deadLetter ? override : body else {
            throw .init(description: phase == .deadLetter ? "no dead-letter event" : "its event row is missing")
        }
        guard let broker else { throw .init(description: "its event row is missing") }
        return LeasedDelivery(
            id: id, broker: try EventRowCoding.broker(broker), trigger: try EventRowCoding.trigger(trigger), event: try EventRowCoding.event(body),
            phase: phase, attempts: min(max(0, attempts), 1_000_000), acceptedAt: Date(timeIntervalSince1970: acceptedAt.isFinite ? acceptedAt : 0))
    }
}
