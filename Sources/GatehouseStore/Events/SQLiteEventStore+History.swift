import Foundation
import GatehouseCore
import GRDB

extension SQLiteEventStore {
    /// One aggregate over the `(trigger, acceptedAt)` index (a covering scan, no table reads):
    /// cheap enough to run every few seconds at `maxPending` rows (measured in docs/performance.md).
    public func backlog() async throws(StoreError) -> [TriggerRef: Backlog] {
        let (backlog, problems) = try await read { db in
            var backlog: [TriggerRef: Backlog] = [:]
            var problems: [String] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT trigger, COUNT(*) AS n, MIN(acceptedAt) AS oldest FROM delivery GROUP BY trigger")
            while let row = try rows.next() {
                do {
                    let oldest: Double? = try row.checked("oldest")
                    backlog[try EventRowCoding.trigger(try row.checked("trigger"))] = Backlog(
                        count: try row.checked("n"), oldestAcceptedAt: oldest.map { Date(timeIntervalSince1970: $0) })
                } catch {
                    problems.append("deliveries with an unreadable trigger (\(error)) are left out of the backlog")
                }
            }
            return (backlog, problems)
        }
        report(problems)
        return backlog
    }

    /// Counts since the trigger was created (or since its deliveries were last dropped), how many
    /// deliveries it has now, and its newest outcomes — at most `limit`, and at most
    /// `outcomesPerTrigger` even before `prune` has trimmed them.
    public func deliveryHistory(of trigger: TriggerRef, limit: Int) async throws(StoreError) -> DeliveryHistory {
        let name = trigger.description
        let limit = max(0, min(limit, bounds.outcomesPerTrigger))
        let (history, problems) = try await read { db in
            let stats = try Row.fetchOne(db, sql: "SELECT delivered, retried, deadLettered FROM trigger_stats WHERE trigger = ?", arguments: [name])
            let pending = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM delivery WHERE trigger = ?", arguments: [name]) ?? 0
            var recent: [DeliveryHistory.Outcome] = []
            var problems: [String] = []
            let rows = try Row.fetchAll(
                db, sql: "SELECT at, eventId, eventType, result, status, reason FROM delivery_outcome WHERE trigger = ? ORDER BY id DESC LIMIT ?",
                arguments: [name, limit])
            for row in rows {
                do {
                    recent.append(DeliveryHistory.Outcome(
                        at: Date(timeIntervalSince1970: try row.checked("at")), eventID: try row.checked("eventId"),
                        eventType: try row.checked("eventType"), result: try row.checked("result"), status: try row.checked("status"),
                        reason: try row.checked("reason")))
                } catch {
                    problems.append("an outcome of \(name) could not be read (\(error)); it is left out")
                }
            }
            func stat(_ column: String) -> Int { max(0, (try? stats?.checked(column, as: Int.self)) ?? 0) }
            return (DeliveryHistory(
                delivered: stat("delivered"), retried: stat("retried"), deadLettered: stat("deadLettered"), pending: pending, recent: recent), problems)
        }
        report(problems)
        return history
    }

    /// Newest first; unreadable ones are left out and reported.
    public func deadLetters(broker: BrokerRef?, limit: Int) async throws(StoreError) -> [DeadLetter] {
        let filter = broker?.description
        let (letters, problems) = try await read { db in
            let rows = if let filter {
                try Row.fetchAll(db, sql: "SELECT * FROM dead_letter WHERE broker = ? ORDER BY id DESC LIMIT ?", arguments: [filter, max(0, limit)])
            } else {
                try Row.fetchAll(db, sql: "SELECT * FROM dead_letter ORDER BY id DESC LIMIT ?", arguments: [max(0, limit)])
            }
            var letters: [DeadLetter] = []
            var problems: [String] = []
            for row in rows {
                do {
                    letters.append(DeadLetter(
                        at: Date(timeIntervalSince1970: try row.checked("at")), broker: try EventRowCoding.broker(try row.checked("broker")),
                        trigger: try EventRowCoding.trigger(try row.checked("trigger")), event: try EventRowCoding.event(try row.checked("body")),
                        status: try row.checked("status"), reason: try row.checked("reason"), sentToSink: try row.checked("sentToSink")))
                } catch {
                    problems.append("dead letter \((try? row.checked("id", as: Int64.self)) ?? 0) could not be read (\(error)); it is left out")
                }
            }
            return (letters, problems)
        }
        report(problems)
        return letters
    }
}
