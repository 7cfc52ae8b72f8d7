import Foundation
import GatehouseCore
import GRDB

/// A settle ready for the writer queue: what settles' group commit batches.
struct SettleWrite: Sendable {
    let delivery: DeliveryID
    let owner: String
    let outcome: DeliveryOutcome
    let now: Date
    /// The dead-letter event, encoded on the caller's thread (empty for other outcomes).
    let deadLetterBody: Data
    /// The same event with its data cut to `EventStoreBounds.deadLetterDataBytes`: the dead-letter record.
    let deadLetterRecord: Data

    /// The write of one settle, its dead-letter rows encoded here (on the caller's thread).
    init(delivery: DeliveryID, owner: String, outcome: DeliveryOutcome, now: Date, bounds: EventStoreBounds) {
        var deadLetterBody = Data(), deadLetterRecord = Data()
        if case .deadLetter(var event, _, _, _) = outcome {
            deadLetterBody = EventRowCoding.encode(event)
            // The record `events dead-letters` lists keeps the start of the data; the sink gets it whole.
            if let data = event.data, data.count > bounds.deadLetterDataBytes { event.data = Array(data.prefix(bounds.deadLetterDataBytes)) }
            deadLetterRecord = EventRowCoding.encode(event)
        }
        self.delivery = delivery
        self.owner = owner
        self.outcome = outcome
        self.now = now
        self.deadLetterBody = deadLetterBody
        self.deadLetterRecord = deadLetterRecord
    }
}

extension SQLiteEventStore {
    /// Applies an outcome to a delivery `owner` still leases; anything else is left alone (the
    /// lease expired and another node took it, or it was released or dropped meanwhile).
    ///
    /// Not fsynced (see the type's comment: a lost settle means one more delivery). Concurrent
    /// settles are group-committed like accepts (one transaction for those that arrived while the
    /// previous one ran, each in its own savepoint) when group commit is on.
    ///
    /// Counts: `Delivered` counts deliveries to the subscriber; a dead-letter-phase delivery to the
    /// sink is recorded as an outcome (reason `to the dead-letter sink`) but not counted again.
    /// `Retried` counts every retry scheduled, in either phase. A `deadLetter` outcome in the
    /// dead-letter phase records the dead letter and finishes (never a second sink round).
    public func settle(_ delivery: DeliveryID, owner: String, outcome: DeliveryOutcome, now: Date) async throws(StoreError) {
        let work = SettleWrite(delivery: delivery, owner: owner, outcome: outcome, now: now, bounds: bounds)
        guard let settles else { return try await commitSettles([work])[0].get() }
        try await settles.submit(work) { writes in await self.commitSettles(writes) }
    }

    /// One transaction for `writes`, each in its own savepoint.
    func commitSettles(_ writes: [SettleWrite]) async -> [Result<Void, StoreError>] {
        let path = path
        do {
            return try await write(durable: false) { db in
                var results: [Result<Void, StoreError>] = []
                for work in writes {
                    do {
                        try db.inSavepoint {
                            try Self.apply(work, db)
                            return .commit
                        }
                        results.append(.success(()))
                    } catch {
                        // As in `commitDurably`: an error that ended the transaction fails the batch.
                        guard db.isInsideTransaction else { throw error }
                        results.append(.failure(error as? StoreError ?? SQLiteStore.storeError(error, path: path)))
                    }
                }
                return results
            }
        } catch {
            return writes.map { _ in .failure(error) }
        }
    }

    private static func apply(_ work: SettleWrite, _ db: Database) throws {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT d.id, d.event, d.trigger, d.phase, d.overrideSize, e.broker, e.eventId, e.type
            FROM delivery d LEFT JOIN event e ON e.id = d.event WHERE d.id = ? AND d.owner = ?
            """, arguments: [work.delivery, work.owner])
        else { return }
        let delivery = work.delivery, now = work.now, at = EventRowCoding.seconds(work.now), deadLetterBody = work.deadLetterBody
        let deadLetterRecord = work.deadLetterRecord
        let trigger: String = (try? row.checked("trigger")) ?? "?"
        let eventId: String = (try? row.checked("eventId")) ?? "?", eventType: String = (try? row.checked("type")) ?? "?"
        let inDeadLetterPhase = (try? row.checked("phase", as: String.self)) == LeasedDelivery.Phase.deadLetter.rawValue
        let overrideSize: Int = (try? row.checked("overrideSize")) ?? 0
        func record(_ result: String, _ status: Int?, _ reason: String?) throws {
            try Self.recordOutcome(trigger: trigger, at: now, eventId: eventId, eventType: eventType, result: result, status: status, reason: reason, db)
        }
        switch work.outcome {
        case .delivered(let status):
            try Self.remove(delivery: delivery, event: try? row.checked("event"), overrideSize: overrideSize, db)
            if inDeadLetterPhase {
                try record("delivered", status, "to the dead-letter sink")
            } else {
                try Self.tally(trigger, delivered: 1, db)
                try record("delivered", status, nil)
            }
        case .retry(let due, let status, let reason):
            try db.execute(
                sql: "UPDATE delivery SET owner = NULL, due = ?, attempts = attempts + 1 WHERE id = ?",
                arguments: [EventRowCoding.seconds(due), delivery])
            try Self.tally(trigger, retried: 1, db)
            try record("retried", status, reason)
        case .deadLetter(_, let status, let reason, let toSink):
            let continues = toSink && !inDeadLetterPhase
            try db.execute(
                sql: """
                    INSERT INTO dead_letter (at, broker, trigger, eventId, body, status, reason, sentToSink)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [at, (try? row.checked("broker", as: String.self)) ?? "?", trigger, eventId, deadLetterRecord, status, reason, continues])
            try Self.tally(trigger, deadLettered: 1, db)
            try record("dead-lettered", status, reason)
            if continues {
                try db.execute(
                    sql: """
                        UPDATE delivery SET phase = 'deadLetter', owner = NULL, due = ?, attempts = 0, override = ?, overrideSize = ?
                        WHERE id = ?
                        """,
                    arguments: [at, deadLetterBody, deadLetterBody.count, delivery])
                try PendingTotals.add(pending: 0, bytes: deadLetterBody.count - overrideSize, db)
            } else {
                try Self.remove(delivery: delivery, event: try? row.checked("event"), overrideSize: overrideSize, db)
            }
        case .dropped(let reason):
            try Self.remove(delivery: delivery, event: try? row.checked("event"), overrideSize: overrideSize, db)
            try record("dropped", nil, reason)
        }
    }
}
