import Foundation
import GatehouseCore
import Logging
import PostgresNIO

extension PostgresEventStore {
    /// Events listing no trigger are acknowledged without a write. The bounds are checked against
    /// the locked totals row inside the transaction: `.full` is the whole mesh's pending work.
    public func accept(_ events: [NewEvent], now: Date) async throws(StoreError) -> AcceptOutcome {
        let prepared = events.map(PreparedEvent.init).filter { !$0.triggers.isEmpty }
        guard !prepared.isEmpty else { return .accepted }
        switch try await durableWrites.submit(.events(prepared, now: now), commit: { writes in await self.commitDurably(writes) }) {
        case .full: return .full
        case .accepted, .fired: return .accepted
        }
    }

    /// Durable, `.full` past the bounds; an id already stored is an error (for this call only).
    public func acceptCall(_ call: AsyncCall, now: Date) async throws(StoreError) -> AcceptOutcome {
        let request = EventRowCoding.encode(call)
        switch try await durableWrites.submit(.call(id: call.id, request: request, acceptedAt: now), commit: { writes in await self.commitDurably(writes) }) {
        case .full: return .full
        case .accepted, .fired: return .accepted
        }
    }

    /// Claims `(schedule, minute)` (`INSERT … ON CONFLICT DO NOTHING` on its primary key: of all
    /// nodes, exactly one inserts it) and stores `events`, in one transaction. As on SQLite, ticks
    /// are not refused by the bounds but count toward them, and a minute older than every kept
    /// mark counts as fired.
    public func fire(schedule: String, minute: Int64, events: [NewEvent], now: Date) async throws(StoreError) -> Bool {
        let prepared = events.map(PreparedEvent.init).filter { !$0.triggers.isEmpty }
        let write = DurableWrite.tick(schedule: schedule, minute: minute, events: prepared, now: now)
        guard case .fired(let fired) = try await durableWrites.submit(write, commit: { writes in await self.commitDurably(writes) }) else { return false }
        return fired
    }

    public func lastFired(schedule: String) async throws(StoreError) -> Int64? {
        try await read { connection, logger in
            for try await minute in try await connection.query(
                "SELECT max(minute) FROM gatehouse_schedule_fired WHERE schedule = \(schedule)", logger: logger).decode(Int64?.self) {
                return minute
            }
            return nil
        }
    }

    /// One transaction for `writes`: the totals row locked first, then each write in its own
    /// savepoint (when there are several), checked against the totals as the earlier ones left them.
    func commitDurably(_ writes: [DurableWrite]) async -> [Result<DurableWriteOutcome, StoreError>] {
        let bounds = bounds, location = store.location
        do {
            let results = try await transaction { connection, logger in
                let before = try await Self.totals(connection, locking: true, logger: logger)
                var totals = before
                var results: [Result<DurableWriteOutcome, StoreError>] = []
                let isolated = writes.count > 1
                for write in writes {
                    if isolated { try await connection.query("SAVEPOINT gatehouse_write", logger: logger) }
                    do {
                        let (outcome, added) = try await Self.apply(write, totals: totals, bounds: bounds, connection, logger: logger)
                        if isolated { try await connection.query("RELEASE SAVEPOINT gatehouse_write", logger: logger) }
                        totals.pending += added.pending
                        totals.bytes += added.bytes
                        results.append(.success(outcome))
                    } catch {
                        guard isolated else { throw error }
                        // A connection that failed cannot roll back to the savepoint: the batch fails whole.
                        try await connection.query("ROLLBACK TO SAVEPOINT gatehouse_write", logger: logger)
                        results.append(.failure(PostgresConfigStore.storeError(error, location: location)))
                    }
                }
                try await Self.addTotals(pending: totals.pending - before.pending, bytes: totals.bytes - before.bytes, connection, logger: logger)
                return results
            }
            durableCommits.add(1, ordering: .relaxed)
            return results
        } catch {
            return writes.map { _ in .failure(error) }
        }
    }

    private static func apply(
        _ write: DurableWrite, totals: PendingTotals, bounds: EventStoreBounds, _ connection: PostgresConnection, logger: Logger
    ) async throws -> (DurableWriteOutcome, PendingTotals) {
        let nothing = PendingTotals(pending: 0, bytes: 0)
        switch write {
        case .events(let events, let now):
            let weight = PreparedEvent.weight(events)
            guard totals.admits(pending: weight.pending, bytes: weight.bytes, within: bounds) else { return (.full, nothing) }
            try await insert(events, now: now, connection, logger: logger)
            return (.accepted, PendingTotals(pending: weight.pending, bytes: weight.bytes))
        case .tick(let schedule, let minute, let events, let now):
            guard try await markFired(schedule: schedule, minute: minute, now: now, connection, logger: logger) else { return (.fired(false), nothing) }
            try await insert(events, now: now, connection, logger: logger)
            let weight = PreparedEvent.weight(events)
            return (.fired(true), PendingTotals(pending: weight.pending, bytes: weight.bytes))
        case .call(let id, let request, let acceptedAt):
            guard totals.admits(pending: 1, bytes: request.count, within: bounds) else { return (.full, nothing) }
            let at = EventRowCoding.seconds(acceptedAt)
            try await connection.query(
                """
                INSERT INTO gatehouse_async_call (id, accepted_at, request, size, due, owner, done)
                VALUES (\(id), \(at), \(request), \(request.count), \(at), NULL, false)
                """, logger: logger)
            return (.accepted, PendingTotals(pending: 1, bytes: request.count))
        }
    }

    /// Each event once, and a delivery per trigger due at `now` (one statement per event).
    static func insert(_ events: [PreparedEvent], now: Date, _ connection: PostgresConnection, logger: Logger) async throws {
        let at = EventRowCoding.seconds(now)
        for event in events where !event.triggers.isEmpty {
            try await connection.query(
                """
                WITH stored AS (
                  INSERT INTO gatehouse_event (broker, event_id, type, accepted_at, body, size)
                  VALUES (\(event.broker), \(event.eventId), \(event.type), \(at), \(event.body), \(event.body.count)) RETURNING id)
                INSERT INTO gatehouse_delivery (event, trigger, phase, due, owner, attempts, accepted_at)
                SELECT stored.id, t.trigger, 'subscriber', \(at), NULL, 0, \(at)
                FROM stored, unnest(\(event.triggers)::text[]) WITH ORDINALITY AS t(trigger, n) ORDER BY t.n
                """, logger: logger)
        }
    }

    /// Inserts the mark; false when another node (or an earlier run) did, or it is older than the
    /// kept ones. Keeps the newest `firedMinutesKept` marks of the schedule.
    static func markFired(schedule: String, minute: Int64, now: Date, _ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let kept = Int64(firedMinutesKept)
        for try await (count, oldest) in try await connection.query(
            "SELECT count(*), min(minute) FROM gatehouse_schedule_fired WHERE schedule = \(schedule)", logger: logger).decode((Int64, Int64?).self) {
            if count >= kept, let oldest, minute < oldest { return false }
        }
        let inserted = try await connection.count(
            """
            INSERT INTO gatehouse_schedule_fired (schedule, minute, at) VALUES (\(schedule), \(minute), \(EventRowCoding.seconds(now)))
            ON CONFLICT (schedule, minute) DO NOTHING RETURNING minute
            """, logger: logger)
        guard inserted > 0 else { return false }
        try await connection.query(
            """
            DELETE FROM gatehouse_schedule_fired WHERE schedule = \(schedule) AND minute < (
              SELECT minute FROM gatehouse_schedule_fired WHERE schedule = \(schedule) ORDER BY minute DESC LIMIT 1 OFFSET \(kept - 1))
            """, logger: logger)
        return true
    }
}
