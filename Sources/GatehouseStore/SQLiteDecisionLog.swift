import Foundation
import GRDB
import Synchronization

/// The decision log in its own SQLite file (`STATE_DIR/decisions.db`), apart from the config store:
/// a burst of decisions never holds the write lock an apply needs, and the config database never
/// grows with traffic.
///
/// Rows are `bounded()` on the way in and the file is kept within `DecisionLogBounds` by
/// `prune(toFit:)`; freed pages go back to the file system (incremental auto-vacuum). Calls are
/// serialized on one connection and block on disk I/O: call them off the event loops.
public final class SQLiteDecisionLog: DecisionLog {
    public let path: String
    private let database: DatabaseQueue
    /// Rows and stored bytes, counted once at open and kept up to date by this process (which holds
    /// the state directory's lock), so checking the bounds costs no query.
    private let totals: Mutex<(entries: Int, bytes: Int)>
    /// Rows deleted per transaction when pruning: a prune never holds the file for long.
    static let pruneBatch = 2_000

    public init(path: String, busyTimeout: TimeInterval = 2) throws(StoreError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "gatehouse.decisions"
        do {
            try PrivateFile.create(path)
            database = try DatabaseQueue(path: path, configuration: configuration)
            // Only takes effect before the first table exists, which is when this file is new.
            try database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL") }
            try Self.migrator.migrate(database)
            let counted = try database.read { db in
                try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM decision")
            }
            totals = Mutex((counted?["n"] ?? 0, counted?["bytes"] ?? 0))
        } catch {
            throw SQLiteStore.storeError(error, path: path)
        }
    }

    /// Entries and stored bytes now.
    public var size: (entries: Int, bytes: Int) { totals.withLock { $0 } }

    public func record(_ entries: [DecisionEntry]) throws(StoreError) {
        guard !entries.isEmpty else { return }
        let added = try access { db in
            var bytes = 0
            try db.inTransaction {
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO decision (requestId, at, function, method, host, path, sourceAddress,
                      outcome, policy, rule, reason, audited, dryRun, size)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for entry in entries.map({ $0.bounded() }) {
                    let audited = entry.audited.joined(separator: "\n"), dryRun = entry.dryRun.joined(separator: "\n")
                    let size = [entry.requestId, entry.function, entry.method, entry.host, entry.path, entry.sourceAddress ?? "",
                                entry.outcome, entry.policy ?? "", entry.reason, audited, dryRun].reduce(0) { $0 + $1.utf8.count }
                    bytes += size
                    try insert.execute(
                        arguments: [entry.requestId, entry.at.timeIntervalSince1970, entry.function, entry.method, entry.host,
                                    entry.path, entry.sourceAddress, entry.outcome, entry.policy, entry.rule, entry.reason,
                                    audited, dryRun, size])
                }
                return .commit
            }
            return bytes
        }
        totals.withLock { $0 = ($0.entries + entries.count, $0.bytes + added) }
    }

    public func decisions(requestId: String) throws(StoreError) -> [DecisionEntry] {
        try access { db in
            try Row.fetchAll(db, sql: "SELECT * FROM decision WHERE requestId = ? ORDER BY id", arguments: [requestId]).map { row in
                let lines = { (text: String) in text.isEmpty ? [] : text.components(separatedBy: "\n") }
                return DecisionEntry(
                    requestId: row["requestId"], at: Date(timeIntervalSince1970: row["at"]), function: row["function"],
                    method: row["method"], host: row["host"], path: row["path"], sourceAddress: row["sourceAddress"],
                    outcome: row["outcome"], policy: row["policy"], rule: row["rule"], reason: row["reason"],
                    audited: lines(row["audited"]), dryRun: lines(row["dryRun"]))
            }
        }
    }

    @discardableResult
    public func prune(olderThan date: Date) throws(StoreError) -> Int {
        try access { db in try delete(db, where: "at < ?", date.timeIntervalSince1970) }
    }

    @discardableResult
    public func prune(toFit bounds: DecisionLogBounds) throws(StoreError) -> Int {
        let now = size
        guard now.entries > bounds.maxEntries || now.bytes > bounds.maxBytes else { return 0 }
        let (targetEntries, targetBytes) = (bounds.maxEntries / 10 * 9, bounds.maxBytes / 10 * 9)
        return try access { db in
            guard let last = try Self.lastToDrop(db, from: now, toFit: (targetEntries, targetBytes)) else { return 0 }
            return try delete(db, where: "id <= ?", last)
        }
    }

    /// The newest of the oldest rows to drop: walked oldest first until what stays fits both targets.
    private static func lastToDrop(_ db: Database, from now: (entries: Int, bytes: Int), toFit target: (entries: Int, bytes: Int)) throws -> Int64? {
        var (entries, bytes) = now
        var last: Int64?
        let cursor = try Row.fetchCursor(db, sql: "SELECT id, size FROM decision ORDER BY id")
        while entries > target.entries || bytes > target.bytes, let row = try cursor.next() {
            last = row["id"]
            entries -= 1
            bytes -= row["size"] as Int
        }
        return last
    }

    /// Deletes the rows matching `condition`, oldest first, `pruneBatch` per transaction; updates
    /// the totals and gives the freed pages back to the file system.
    private func delete(_ db: Database, where condition: String, _ argument: some DatabaseValueConvertible) throws -> Int {
        var deleted = 0
        while true {
            let batch = try Row.fetchAll(
                db, sql: "SELECT id, size FROM decision WHERE \(condition) ORDER BY id LIMIT ?", arguments: [argument, Self.pruneBatch])
            guard let upTo: Int64 = batch.last?["id"] else { break }
            // Exactly the batch: the matching rows up to its last id.
            try db.inTransaction {
                try db.execute(sql: "DELETE FROM decision WHERE \(condition) AND id <= ?", arguments: [argument, upTo])
                return .commit
            }
            let bytes = batch.reduce(0) { $0 + ($1["size"] as Int) }
            totals.withLock { $0 = ($0.entries - batch.count, $0.bytes - bytes) }
            deleted += batch.count
        }
        if deleted > 0 { try db.execute(sql: "PRAGMA incremental_vacuum") }
        return deleted
    }

    private func access<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try database.writeWithoutTransaction(body)
        } catch {
            throw SQLiteStore.storeError(error, path: path)
        }
    }

    /// `size` is the entry's stored text in bytes, for `DecisionLogBounds.maxBytes`.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE decision (
                  id INTEGER PRIMARY KEY AUTOINCREMENT, requestId TEXT NOT NULL, at REAL NOT NULL, function TEXT NOT NULL, method TEXT NOT NULL,
                  host TEXT NOT NULL, path TEXT NOT NULL, sourceAddress TEXT, outcome TEXT NOT NULL, policy TEXT,
                  rule INTEGER, reason TEXT NOT NULL, audited TEXT NOT NULL, dryRun TEXT NOT NULL, size INTEGER NOT NULL);
                CREATE INDEX decision_at ON decision (at);
                CREATE INDEX decision_request ON decision (requestId);
                """)
        }
        return migrator
    }
}
