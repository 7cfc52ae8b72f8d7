import Foundation
import GatehouseCore
import GRDB

/// `ConfigStore` in one SQLite file (`STATE_DIR/gatehouse.db`), through GRDB. The decision log
/// has its own file (`SQLiteDecisionLog`), so traffic never competes with applies for this one.
///
/// SQLite's rollback journal with `synchronous=FULL` (its default) makes a committed
/// transaction durable before `commit` returns. A second writer waits up to `busyTimeout`.
public final class SQLiteStore: ConfigStore {
    public let path: String
    private let database: DatabaseQueue

    /// Opens or creates the database and brings its schema up to date; a file that is not a
    /// Gatehouse database is refused here, before anything is served from it.
    public init(path: String, busyTimeout: TimeInterval = 2) throws(StoreError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "gatehouse.store"
        do {
            try PrivateFile.create(path)
            database = try DatabaseQueue(path: path, configuration: configuration)
            let hadDecisions = try database.read { try $0.tableExists("decision") }
            try Self.migrator.migrate(database)
            // The dropped decision table may have been large: give its pages back, once.
            if hadDecisions { try database.vacuum() }
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    public func resources() throws(StoreError) -> [StoredResource] {
        try access { db in
            try Row.fetchAll(db, sql: "SELECT * FROM resource ORDER BY rowid").map { row in
                StoredResource(
                    document: ResourceDocument(
                        key: ResourceKey(group: row["apiGroup"], kind: row["kind"], namespace: row["namespace"], name: row["name"]),
                        apiVersion: row["apiVersion"], text: row["text"], file: row["file"], lineOffset: row["lineOffset"]),
                    generation: row["generation"],
                    appliedAt: Date(timeIntervalSince1970: row["appliedAt"]),
                    appliedBy: row["appliedBy"])
            }
        }
    }

    public func commit(_ changes: [ResourceChange], actor: String, at time: Date) throws(StoreError) {
        guard !changes.isEmpty else { return }
        try access { db in
            try db.inTransaction {
                let batch = (try Int64.fetchOne(db, sql: "SELECT MAX(batch) FROM change") ?? 0) + 1
                for change in changes {
                    let key = change.key
                    if let document = change.document {
                        try db.execute(
                            sql: """
                                INSERT INTO resource (apiGroup, kind, namespace, name, apiVersion, text, file, lineOffset, generation, appliedAt, appliedBy)
                                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                                ON CONFLICT (apiGroup, kind, namespace, name) DO UPDATE SET
                                  apiVersion = excluded.apiVersion, text = excluded.text, file = excluded.file,
                                  lineOffset = excluded.lineOffset, generation = excluded.generation,
                                  appliedAt = excluded.appliedAt, appliedBy = excluded.appliedBy
                                """,
                            arguments: [key.group, key.kind, key.namespace, key.name, document.apiVersion, document.text,
                                        document.file, document.lineOffset, change.generation, time.timeIntervalSince1970, actor])
                    } else {
                        try db.execute(
                            sql: "DELETE FROM resource WHERE apiGroup = ? AND kind = ? AND namespace = ? AND name = ?",
                            arguments: [key.group, key.kind, key.namespace, key.name])
                    }
                    if key.group == "gatehouse.dev", key.kind == "Function" { try Self.recordRevision(change, db: db, actor: actor, at: time) }
                    try db.execute(
                        sql: """
                            INSERT INTO change (batch, at, actor, operation, apiGroup, kind, namespace, name, generation, origin, diff)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [batch, time.timeIntervalSince1970, actor, change.operation.rawValue, key.group, key.kind,
                                    key.namespace, key.name, change.generation, change.origin, change.diff])
                }
                return .commit
            }
        }
    }

    public func history(_ filter: HistoryFilter, limit: Int) throws(StoreError) -> [HistoryEntry] {
        try access { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            for (column, value) in [("kind", filter.kind), ("namespace", filter.namespace), ("name", filter.name)] {
                guard let value else { continue }
                conditions.append("\(column) = ? COLLATE NOCASE")
                _ = arguments.append(contentsOf: [value])
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [limit])
            return try Row.fetchAll(db, sql: "SELECT * FROM change \(whereClause) ORDER BY id DESC LIMIT ?", arguments: arguments).map { row in
                HistoryEntry(
                    id: row["id"], batch: row["batch"], at: Date(timeIntervalSince1970: row["at"]), actor: row["actor"],
                    operation: ResourceChange.Operation(rawValue: row["operation"]) ?? .configured,
                    group: row["apiGroup"], kind: row["kind"], namespace: row["namespace"], name: row["name"],
                    generation: row["generation"], origin: row["origin"], diff: row["diff"])
            }
        }
    }

    /// A revision is immutable: the first document of a generation is kept. A deleted Function's go.
    private static func recordRevision(_ change: ResourceChange, db: Database, actor: String, at time: Date) throws {
        let key = change.key
        guard let document = change.document else {
            try db.execute(sql: "DELETE FROM revision WHERE namespace = ? AND name = ?", arguments: [key.namespace, key.name])
            return
        }
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO revision (namespace, name, number, apiVersion, text, file, lineOffset, createdAt, createdBy)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [key.namespace, key.name, change.generation, document.apiVersion, document.text,
                        document.file, document.lineOffset, time.timeIntervalSince1970, actor])
    }

    public func revisions(of function: FunctionKey?) throws(StoreError) -> [StoredRevision] {
        try access { db in
            let rows = if let function {
                try Row.fetchAll(
                    db, sql: "SELECT * FROM revision WHERE namespace = ? AND name = ? ORDER BY number",
                    arguments: [function.namespace, function.name])
            } else {
                try Row.fetchAll(db, sql: "SELECT * FROM revision ORDER BY namespace, name, number")
            }
            return rows.map { row in
                let function = FunctionKey(namespace: row["namespace"], name: row["name"])
                return StoredRevision(
                    key: RevisionKey(function: function, number: row["number"]),
                    document: ResourceDocument(
                        key: ResourceKey(group: "gatehouse.dev", kind: "Function", namespace: function.namespace, name: function.name),
                        apiVersion: row["apiVersion"], text: row["text"], file: row["file"], lineOffset: row["lineOffset"]),
                    createdAt: Date(timeIntervalSince1970: row["createdAt"]), createdBy: row["createdBy"])
            }
        }
    }

    public func dropRevisions(_ keys: [RevisionKey]) throws(StoreError) {
        guard !keys.isEmpty else { return }
        try access { db in
            try db.inTransaction {
                for key in keys {
                    try db.execute(
                        sql: "DELETE FROM revision WHERE namespace = ? AND name = ? AND number = ?",
                        arguments: [key.function.namespace, key.function.name, key.number])
                }
                return .commit
            }
        }
    }

    private func access<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try database.writeWithoutTransaction(body)
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    static func storeError(_ error: any Error, path: String) -> StoreError {
        guard let error = error as? DatabaseError else { return StoreError(.failed, path: path, detail: "\(error)") }
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT: return StoreError(.corrupt, path: path, detail: detail)
        case .SQLITE_BUSY, .SQLITE_LOCKED: return StoreError(.locked, path: path, detail: detail)
        default: return StoreError(.failed, path: path, detail: detail)
        }
    }

    /// The schema's steps, in order (internal so tests can stop at an older one).
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE resource (
                  apiGroup TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                  apiVersion TEXT NOT NULL, text TEXT NOT NULL, file TEXT NOT NULL, lineOffset INTEGER NOT NULL,
                  generation INTEGER NOT NULL, appliedAt REAL NOT NULL, appliedBy TEXT NOT NULL,
                  PRIMARY KEY (apiGroup, kind, namespace, name));
                CREATE TABLE change (
                  id INTEGER PRIMARY KEY AUTOINCREMENT, batch INTEGER NOT NULL, at REAL NOT NULL, actor TEXT NOT NULL,
                  operation TEXT NOT NULL, apiGroup TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL,
                  name TEXT NOT NULL, generation INTEGER NOT NULL, origin TEXT NOT NULL, diff TEXT NOT NULL);
                CREATE INDEX change_resource ON change (kind, namespace, name);
                """)
        }
        migrator.registerMigration("v2-decisions") { db in
            try db.execute(sql: """
                CREATE TABLE decision (
                  id INTEGER PRIMARY KEY AUTOINCREMENT, requestId TEXT NOT NULL, at REAL NOT NULL, function TEXT NOT NULL, method TEXT NOT NULL,
                  host TEXT NOT NULL, path TEXT NOT NULL, sourceAddress TEXT, outcome TEXT NOT NULL, policy TEXT,
                  rule INTEGER, reason TEXT NOT NULL, audited TEXT NOT NULL, dryRun TEXT NOT NULL);
                CREATE INDEX decision_at ON decision (at);
                CREATE INDEX decision_request ON decision (requestId);
                """)
        }
        migrator.registerMigration("v3-revisions") { db in
            // Functions applied before revisions were kept get their current spec as a revision,
            // created when the history first shows that generation (since the function's last delete).
            try db.execute(sql: """
                CREATE TABLE revision (
                  namespace TEXT NOT NULL, name TEXT NOT NULL, number INTEGER NOT NULL,
                  apiVersion TEXT NOT NULL, text TEXT NOT NULL, file TEXT NOT NULL, lineOffset INTEGER NOT NULL,
                  createdAt REAL NOT NULL, createdBy TEXT NOT NULL,
                  PRIMARY KEY (namespace, name, number));
                INSERT INTO revision (namespace, name, number, apiVersion, text, file, lineOffset, createdAt, createdBy)
                  SELECT r.namespace, r.name, r.generation, r.apiVersion, r.text, r.file, r.lineOffset,
                    COALESCE(c.at, r.appliedAt), COALESCE(c.actor, r.appliedBy)
                  FROM resource r LEFT JOIN change c ON c.id = (
                    SELECT MIN(id) FROM change WHERE apiGroup = r.apiGroup AND kind = r.kind AND namespace = r.namespace
                      AND name = r.name AND generation = r.generation
                      AND id > COALESCE((SELECT MAX(id) FROM change WHERE apiGroup = r.apiGroup AND kind = r.kind
                        AND namespace = r.namespace AND name = r.name AND operation = 'deleted'), 0))
                  WHERE r.apiGroup = 'gatehouse.dev' AND r.kind = 'Function';
                """)
        }
        migrator.registerMigration("v4-decisions-moved") { db in
            // Decisions now live in decisions.db (SQLiteDecisionLog). The old ones are dropped, not
            // copied: they are kept only for a day, and their rows were unbounded.
            try db.execute(sql: "DROP TABLE IF EXISTS decision")
        }
        return migrator
    }
}
