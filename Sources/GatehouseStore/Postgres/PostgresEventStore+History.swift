import Foundation
import GatehouseCore
import Logging
import PostgresNIO

extension PostgresEventStore {
    /// One aggregate over the `(trigger, accepted_at)` index; every node's deliveries.
    public func backlog() async throws(StoreError) -> [TriggerRef: Backlog] {
        let (backlog, problems) = try await read { connection, logger in
            var backlog: [TriggerRef: Backlog] = [:]
            var problems: [String] = []
            for try await (trigger, count, oldest) in try await connection.query(
                "SELECT trigger, count(*), min(accepted_at) FROM gatehouse_delivery GROUP BY trigger", logger: logger).decode((String, Int, Double?).self) {
                do throws(StoredBlobReader.Unreadable) {
                    backlog[try EventRowCoding.trigger(trigger)] = Backlog(count: count, oldestAcceptedAt: oldest.map { Date(timeIntervalSince1970: $0) })
                } catch {
                    problems.append("deliveries with an unreadable trigger (\(error)) are left out of the backlog")
                }
            }
            return (backlog, problems)
        }
        report(problems)
        return backlog
    }

    /// As on SQLite: counts since the trigger was created (or its deliveries last dropped), its
    /// deliveries now, and its newest outcomes — at most `limit` and `outcomesPerTrigger`.
    public func deliveryHistory(of trigger: TriggerRef, limit: Int) async throws(StoreError) -> DeliveryHistory {
        let name = trigger.description
        let limit = max(0, min(limit, bounds.outcomesPerTrigger))
        return try await read { connection, logger in
            var stats = (delivered: 0, retried: 0, deadLettered: 0)
            for try await (delivered, retried, deadLettered) in try await connection.query(
                "SELECT delivered, retried, dead_lettered FROM gatehouse_trigger_stats WHERE trigger = \(name)", logger: logger).decode((Int, Int, Int).self) {
                stats = (max(0, delivered), max(0, retried), max(0, deadLettered))
            }
            var pending = 0
            for try await count in try await connection.query(
                "SELECT count(*) FROM gatehouse_delivery WHERE trigger = \(name)", logger: logger).decode(Int.self) {
                pending = count
            }
            var recent: [DeliveryHistory.Outcome] = []
            for try await (at, eventID, eventType, result, status, reason) in try await connection.query(
                """
                SELECT at, event_id, event_type, result, status, reason FROM gatehouse_delivery_outcome
                WHERE trigger = \(name) ORDER BY id DESC LIMIT \(limit)
                """, logger: logger).decode((Double, String, String, String, Int?, String?).self) {
                recent.append(DeliveryHistory.Outcome(
                    at: Date(timeIntervalSince1970: at), eventID: eventID, eventType: eventType, result: result, status: status, reason: reason))
            }
            return DeliveryHistory(delivered: stats.delivered, retried: stats.retried, deadLettered: stats.deadLettered, pending: pending, recent: recent)
        }
    }

    /// Newest first; unreadable ones are left out and reported.
    public func deadLetters(broker: BrokerRef?, limit: Int) async throws(StoreError) -> [DeadLetter] {
        let filter = broker?.description
        let (letters, problems) = try await read { connection, logger in
            var letters: [DeadLetter] = []
            var problems: [String] = []
            let rows = try await connection.query(
                """
                SELECT id, at, broker, trigger, body, status, reason, sent_to_sink FROM gatehouse_dead_letter
                WHERE \(filter)::text IS NULL OR broker = \(filter) ORDER BY id DESC LIMIT \(max(0, limit))
                """, logger: logger)
            for try await (id, at, broker, trigger, body, status, reason, sentToSink) in rows.decode(
                (Int64, Double, String, String, Data, Int?, String, Bool).self) {
                do throws(StoredBlobReader.Unreadable) {
                    letters.append(DeadLetter(
                        at: Date(timeIntervalSince1970: at), broker: try EventRowCoding.broker(broker), trigger: try EventRowCoding.trigger(trigger),
                        event: try EventRowCoding.event(body), status: status, reason: reason, sentToSink: sentToSink))
                } catch {
                    problems.append("dead letter \(id) could not be read (\(error)); it is left out")
                }
            }
            return (letters, problems)
        }
        report(problems)
        return letters
    }

    /// Drops call results whose `keepUntil` passed, the oldest dead letters past `maxDeadLetters`
    /// and each trigger's oldest outcomes past `outcomesPerTrigger`. Any node may run it (every
    /// node does, every minute); each run is one short transaction.
    public func prune(now: Date) async throws(StoreError) {
        let bounds = bounds
        try await transaction { connection, logger in
            try await connection.query(
                "DELETE FROM gatehouse_async_call WHERE done AND keep_until <= \(EventRowCoding.seconds(now))", logger: logger)
            try await connection.query(
                """
                DELETE FROM gatehouse_dead_letter WHERE id <= (
                  SELECT id FROM gatehouse_dead_letter ORDER BY id DESC LIMIT 1 OFFSET \(max(0, bounds.maxDeadLetters)))
                """, logger: logger)
            try await connection.query(
                """
                DELETE FROM gatehouse_delivery_outcome o USING (
                  SELECT id, row_number() OVER (PARTITION BY trigger ORDER BY id DESC) AS n FROM gatehouse_delivery_outcome) ranked
                WHERE o.id = ranked.id AND ranked.n > \(max(0, bounds.outcomesPerTrigger))
                """, logger: logger)
            // The totals counted again from the rows, under their lock: work that changed rows
            // and has not added its change yet is not committed, so not seen here either. Drift
            // (a row deleted by hand, a missing totals row) does not outlive a prune.
            try await connection.query(
                """
                INSERT INTO gatehouse_event_totals (id, pending, bytes) VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING
                """, logger: logger)
            _ = try await Self.totals(connection, locking: true, logger: logger)
            try await connection.query(
                """
                UPDATE gatehouse_event_totals SET
                  pending = (SELECT COUNT(*) FROM gatehouse_delivery) + (SELECT COUNT(*) FROM gatehouse_async_call WHERE NOT done),
                  bytes = (SELECT COALESCE(SUM(size), 0) FROM gatehouse_event) + (SELECT COALESCE(SUM(override_size), 0) FROM gatehouse_delivery)
                    + (SELECT COALESCE(SUM(size), 0) FROM gatehouse_async_call WHERE NOT done)
                WHERE id = 1
                """, logger: logger)
        }
    }
}
