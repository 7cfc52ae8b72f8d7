import Foundation
import GRDB

extension SQLiteEventStore {
    /// Drops call results whose `keepUntil` passed, the oldest dead letters past `maxDeadLetters`
    /// and each trigger's oldest outcomes past `outcomesPerTrigger`; then gives freed pages back
    /// to the file system when they are a quarter of the file or more. Meant to run every few
    /// seconds (the tables grow with traffic between runs); each run is one short transaction.
    public func prune(now: Date) async throws(StoreError) {
        let bounds = bounds
        let freed = try await write(durable: false) { db in
            try db.execute(sql: "DELETE FROM async_call WHERE done = 1 AND keepUntil <= ?", arguments: [EventRowCoding.seconds(now)])
            try db.execute(
                sql: "DELETE FROM dead_letter WHERE id <= (SELECT id FROM dead_letter ORDER BY id DESC LIMIT 1 OFFSET ?)",
                arguments: [max(0, bounds.maxDeadLetters)])
            let trim = try db.cachedStatement(sql: """
                DELETE FROM delivery_outcome WHERE trigger = ? AND id <= (
                  SELECT id FROM delivery_outcome WHERE trigger = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
                """)
            for trigger in try String.fetchAll(db, sql: "SELECT DISTINCT trigger FROM delivery_outcome") {
                try trim.execute(arguments: [trigger, trigger, max(0, bounds.outcomesPerTrigger)])
            }
            let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            return free >= 256 && free * 4 >= pages
        }
        guard freed else { return }
        do {
            try await database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA incremental_vacuum") }
        } catch {
            throw SQLiteStore.storeError(error, path: path)
        }
    }
}
