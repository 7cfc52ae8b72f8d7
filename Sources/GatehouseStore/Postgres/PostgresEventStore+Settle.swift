import Foundation
import GatehouseCore
import Logging
import PostgresNIO

extension PostgresEventStore {
    /// Applies an outcome to a delivery `owner` still leases (its row locked, `owner` checked in
    /// the same transaction); anything else is left alone — the lease expired and another node
    /// took it, or it was released or dropped meanwhile. Counts as on SQLite.
    ///
    /// Concurrent settles of this node share one transaction, each in its own savepoint, their
    /// rows locked in id order and the totals row last. The mesh's settle batches take turns
    /// (`settleLock`); a deadlock with anything else ends one transaction, and that batch is
    /// tried again, up to three times.
    public func settle(_ delivery: DeliveryID, owner: String, outcome: DeliveryOutcome, now: Date) async throws(StoreError) {
        let work = SettleWrite(delivery: delivery, owner: owner, outcome: outcome, now: now, bounds: bounds)
        try await settles.submit(work) { writes in await self.commitSettles(writes) }
    }

    func commitSettles(_ writes: [SettleWrite]) async -> [Result<Void, StoreError>] {
        var attempt = 1
        while true {
            let results = await commitSettlesOnce(writes)
            guard attempt < 3, results.contains(where: { if case .failure(let error) = $0 { error.reason == .locked } else { false } }) else {
                return results
            }
            attempt += 1
        }
    }

    private func commitSettlesOnce(_ writes: [SettleWrite]) async -> [Result<Void, StoreError>] {
        let location = store.location
        do {
            return try await transaction { connection, logger in
                // Settle batches (and drops) of the whole mesh take turns: each locks deliveries,
                // events and per-trigger counts in an order that depends on its batch, and two
                // nodes' batches in opposite orders would deadlock.
                try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresEventStore.settleLock))", logger: logger)
                var results = [Result<Void, StoreError>](repeating: .success(()), count: writes.count)
                var freed = PendingTotals(pending: 0, bytes: 0)
                let isolated = writes.count > 1
                for index in writes.indices.sorted(by: { writes[$0].delivery < writes[$1].delivery }) {
                    if isolated { try await connection.query("SAVEPOINT gatehouse_settle", logger: logger) }
                    do {
                        let change = try await Self.apply(writes[index], connection, logger: logger)
                        if isolated { try await connection.query("RELEASE SAVEPOINT gatehouse_settle", logger: logger) }
                        freed.pending = freed.pending.clampedAdding(change.pending)
                        freed.bytes = freed.bytes.clampedAdding(change.bytes)
                    } catch {
                        let failure = PostgresConfigStore.storeError(error, location: location)
                        // A deadlock ends the transaction's chances: the whole batch is tried again.
                        guard isolated, failure.reason != .locked else { throw error }
                        try await connection.query("ROLLBACK TO SAVEPOINT gatehouse_settle", logger: logger)
                        results[index] = .failure(failure)
                    }
                }
                try await Self.addTotals(pending: -freed.pending, bytes: -freed.bytes, connection, logger: logger)
                return results
            }
        } catch {
            return writes.map { _ in .failure(error) }
        }
    }

    /// One settle inside the batch's transaction; returns what it takes from the totals.
    private static func apply(_ work: SettleWrite, _ connection: PostgresConnection, logger: Logger) async throws -> PendingTotals {
        var found: PostgresRandomAccessRow?
        for try await row in try await connection.query(
            """
            SELECT d.id, d.event, d.trigger, d.phase, d.override_size, e.broker, e.event_id, e.type
            FROM gatehouse_delivery d LEFT JOIN gatehouse_event e ON e.id = d.event
            WHERE d.id = \(work.delivery) AND d.owner = \(work.owner) FOR UPDATE OF d
            """, logger: logger) {
            found = row.makeRandomAccess()
        }
        guard let row = found else { return PendingTotals(pending: 0, bytes: 0) }
        let delivery = work.delivery, now = work.now, at = EventRowCoding.seconds(work.now)
        let trigger = try row["trigger"].decode(String.self), event = try row["event"].decode(Int64.self)
        let eventId = (try? row["event_id"].decode(String?.self)) ?? "?"
        let eventType = (try? row["type"].decode(String?.self)) ?? "?"
        let inDeadLetterPhase = try row["phase"].decode(String.self) == LeasedDelivery.Phase.deadLetter.rawValue
        let overrideSize = try row["override_size"].decode(Int.self)
        func record(_ result: String, _ status: Int?, _ reason: String?) async throws {
            try await recordOutcome(
                trigger: trigger, at: now, eventId: eventId, eventType: eventType, result: result, status: status, reason: reason, connection, logger: logger)
        }
        switch work.outcome {
        case .delivered(let status):
            let freed = try await remove(delivery: delivery, event: event, overrideSize: overrideSize, connection, logger: logger)
            if inDeadLetterPhase {
                try await record("delivered", status, "to the dead-letter sink")
            } else {
                try await tally(trigger, delivered: 1, connection, logger: logger)
                try await record("delivered", status, nil)
            }
            return freed
        case .retry(let due, let status, let reason):
            try await connection.query(
                "UPDATE gatehouse_delivery SET owner = NULL, due = \(EventRowCoding.seconds(due)), attempts = attempts + 1 WHERE id = \(delivery)",
                logger: logger)
            try await tally(trigger, retried: 1, connection, logger: logger)
            try await record("retried", status, reason)
            return PendingTotals(pending: 0, bytes: 0)
        case .deadLetter(_, let status, let reason, let toSink):
            let continues = toSink && !inDeadLetterPhase
            let broker = (try? row["broker"].decode(String?.self)) ?? "?"
            try await connection.query(
                """
                INSERT INTO gatehouse_dead_letter (at, broker, trigger, event_id, body, status, reason, sent_to_sink)
                VALUES (\(at), \(broker), \(trigger), \(eventId), \(work.deadLetterRecord), \(status), \(reason), \(continues))
                """, logger: logger)
            try await tally(trigger, deadLettered: 1, connection, logger: logger)
            try await record("dead-lettered", status, reason)
            guard continues else { return try await remove(delivery: delivery, event: event, overrideSize: overrideSize, connection, logger: logger) }
            let body = work.deadLetterBody
            try await connection.query(
                """
                UPDATE gatehouse_delivery SET phase = 'deadLetter', owner = NULL, due = \(at), attempts = 0, override = \(body),
                  override_size = \(body.count) WHERE id = \(delivery)
                """, logger: logger)
            // The dead-letter event is held besides the original: the totals grow by its size.
            return PendingTotals(pending: 0, bytes: overrideSize - body.count)
        case .dropped(let reason):
            let freed = try await remove(delivery: delivery, event: event, overrideSize: overrideSize, connection, logger: logger)
            try await record("dropped", nil, reason)
            return freed
        }
    }
}
