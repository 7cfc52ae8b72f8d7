import Foundation
import GatehouseCore
import GRDB

extension SQLiteEventStore {
    /// Events listing no trigger are acknowledged without a write (nothing would be delivered).
    /// Returns `.full` without queueing when the totals this process knows — confirmed from the
    /// file — leave no room; the authoritative check runs again inside the transaction.
    public func accept(_ events: [NewEvent], now: Date) async throws(StoreError) -> AcceptOutcome {
        let prepared = events.map(PreparedEvent.init).filter { !$0.triggers.isEmpty }
        guard !prepared.isEmpty else { return .accepted }
        let weight = PreparedEvent.weight(prepared)
        guard try await mayAdmit(pending: weight.pending, bytes: weight.bytes) else { return .full }
        switch try await durable(.events(prepared, now: now)) {
        case .full: return .full
        case .accepted, .fired: return .accepted
        }
    }

    /// The cheap check: this process's totals; when they say no, the file's (another process may
    /// have delivered since), so a stale count never refuses for long.
    func mayAdmit(pending: Int, bytes: Int) async throws(StoreError) -> Bool {
        let bounds = bounds
        if knownTotals.withLock({ $0.admits(pending: pending, bytes: bytes, within: bounds) }) { return true }
        return try await read { db in try PendingTotals.read(db) }.admits(pending: pending, bytes: bytes, within: bounds)
    }

    /// Commits `write` durably, batched with concurrent ones when group commit is on.
    func durable(_ write: DurableWrite) async throws(StoreError) -> DurableWriteOutcome {
        guard let durableWrites else { return try await commitDurably([write])[0].get() }
        return try await durableWrites.submit(write) { writes in await self.commitDurably(writes) }
    }

    /// One fsynced transaction for `writes`, each in its own savepoint and checked against the
    /// totals as the earlier ones in the batch left them.
    func commitDurably(_ writes: [DurableWrite]) async -> [Result<DurableWriteOutcome, StoreError>] {
        let path = path
        do {
            let results = try await write(durable: true) { db in
                let before = try PendingTotals.read(db)
                var totals = before
                var results: [Result<DurableWriteOutcome, StoreError>] = []
                for write in writes {
                    do {
                        var applied: (outcome: DurableWriteOutcome, added: PendingTotals)?
                        try db.inSavepoint {
                            applied = try self.apply(write, totals: totals, db)
                            return .commit
                        }
                        guard let applied else { throw StoreError(.failed, path: path, detail: "a write returned nothing") }
                        totals.pending += applied.added.pending
                        totals.bytes += applied.added.bytes
                        results.append(.success(applied.outcome))
                    } catch {
                        // Some errors (disk full, I/O) roll back the whole transaction, not just the
                        // savepoint: then nothing in the batch was stored, and all must hear so.
                        guard db.isInsideTransaction else { throw error }
                        results.append(.failure(error as? StoreError ?? SQLiteStore.storeError(error, path: path)))
                    }
                }
                try PendingTotals.add(pending: totals.pending - before.pending, bytes: totals.bytes - before.bytes, db)
                return results
            }
            durableCommits.add(1, ordering: .relaxed)
            return results
        } catch {
            return writes.map { _ in .failure(error) }
        }
    }

    /// Applies one write inside the batch's transaction; returns what it added to the totals.
    private func apply(_ write: DurableWrite, totals: PendingTotals, _ db: Database) throws -> (outcome: DurableWriteOutcome, added: PendingTotals) {
        switch write {
        case .events(let events, let now):
            let weight = PreparedEvent.weight(events)
            guard totals.admits(pending: weight.pending, bytes: weight.bytes, within: bounds) else { return (.full, PendingTotals(pending: 0, bytes: 0)) }
            try Self.insert(events, now: now, db)
            return (.accepted, PendingTotals(pending: weight.pending, bytes: weight.bytes))
        case .tick(let schedule, let minute, let events, let now):
            guard try Self.markFired(schedule: schedule, minute: minute, now: now, db) else { return (.fired(false), PendingTotals(pending: 0, bytes: 0)) }
            try Self.insert(events, now: now, db)
            let weight = PreparedEvent.weight(events)
            return (.fired(true), PendingTotals(pending: weight.pending, bytes: weight.bytes))
        case .call(let id, let request, let acceptedAt):
            guard totals.admits(pending: 1, bytes: request.count, within: bounds) else { return (.full, PendingTotals(pending: 0, bytes: 0)) }
            try Self.insertCall(id: id, request: request, acceptedAt: acceptedAt, db)
            return (.accepted, PendingTotals(pending: 1, bytes: request.count))
        }
    }

    /// Each event once, and a delivery per trigger due at `now`.
    static func insert(_ events: [PreparedEvent], now: Date, _ db: Database) throws {
        let insertEvent = try db.cachedStatement(sql: "INSERT INTO event (broker, eventId, type, acceptedAt, body, size) VALUES (?, ?, ?, ?, ?, ?)")
        let insertDelivery = try db.cachedStatement(sql: """
            INSERT INTO delivery (event, trigger, phase, due, owner, attempts, acceptedAt) VALUES (?, ?, 'subscriber', ?, NULL, 0, ?)
            """)
        let at = EventRowCoding.seconds(now)
        for event in events where !event.triggers.isEmpty {
            try insertEvent.execute(arguments: [event.broker, event.eventId, event.type, at, event.body, event.body.count])
            let row = db.lastInsertedRowID
            for trigger in event.triggers { try insertDelivery.execute(arguments: [row, trigger, at, at]) }
        }
    }
}
