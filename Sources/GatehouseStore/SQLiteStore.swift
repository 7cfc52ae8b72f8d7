import Foundation
import GatehouseCore
import GRDB

/// `ConfigStore` in one SQLite file (`STATE_DIR/gatehouse.db`, or a file several `gatehouse`
/// processes share: `up --store`), through GRDB. The decision log has its own file
/// (`SQLiteDecisionLog`), so traffic never competes with applies for this one.
///
/// SQLite's rollback journal with `synchronous=FULL` (its default) makes a committed
/// transaction durable before `commit` returns. A commit runs in one `BEGIN IMMEDIATE`
/// transaction: it takes the write lock before it reads what it checks, so of two processes that
/// read the same version only one can write it. A second writer waits up to `busyTimeout`.
///
/// The change feed cannot be told by another process that it committed; each feed asks its own
/// connection for `PRAGMA data_version` (a counter in memory that moves when any other
/// connection commits; no file is read) every `feedInterval`, and reads the new batches only when
/// it moved.
public final class SQLiteStore: ConfigStore {
    public let path: String
    let database: DatabaseQueue
    private let busyTimeout: TimeInterval
    /// How often a change feed checks for commits (default 100 ms).
    public let feedInterval: Duration

    /// Opens or creates the database and brings its schema up to date; a file that is not a
    /// Gatehouse database is refused here, before anything is served from it.
    public init(path: String, busyTimeout: TimeInterval = 2, feedInterval: Duration = .milliseconds(100)) throws(StoreError) {
        self.path = path
        self.busyTimeout = busyTimeout
        self.feedInterval = feedInterval
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

    public func state() async throws(StoreError) -> StoreState {
        try await reading { db in
            let resources = try Row.fetchAll(db, sql: "SELECT * FROM resource ORDER BY rowid").map { row in
                StoredResource(
                    document: ResourceDocument(
                        key: ResourceKey(group: row["apiGroup"], kind: row["kind"], namespace: row["namespace"], name: row["name"]),
                        apiVersion: row["apiVersion"], text: row["text"], file: row["file"], lineOffset: row["lineOffset"]),
                    generation: row["generation"], revision: row["revision"],
                    appliedAt: Date(timeIntervalSince1970: row["appliedAt"]),
                    appliedBy: row["appliedBy"])
            }
            return StoreState(revision: try Self.revision(db), resources: resources)
        }
    }

    public func revision() async throws(StoreError) -> Int64 {
        try await reading { db in try Self.revision(db) }
    }

    static func revision(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT revision FROM store WHERE id = 1") ?? 0
    }

    /// Thrown inside a commit's transaction (rolling it back) when a change's expectation fails.
    private struct ConflictFound: Error {
        let conflict: StoreError.Conflict
        /// The store moved past the change's basis (not this resource's version).
        var storeMoved = false
    }

    @discardableResult
    public func commit(_ changes: [ResourceChange], basedOn: Int64? = nil, actor: String, at time: Date) async throws(StoreError) -> Int64 {
        guard !changes.isEmpty else { return try await revision() }
        do {
            return try await database.writeWithoutTransaction { db in
                var batch: Int64 = 0
                try db.inTransaction(.immediate) {
                    for change in changes { try Self.check(change, db: db) }
                    let current = try Self.revision(db)
                    if let basedOn, current != basedOn, let first = changes.first {
                        // Another writer committed since the config was validated: the change is
                        // refused whole, naming the revision it would have had to be built on.
                        throw ConflictFound(conflict: .init(key: first.key, expected: first.expected, currentGeneration: nil, currentRevision: current), storeMoved: true)
                    }
                    batch = current + 1
                    try db.execute(sql: "UPDATE store SET revision = ? WHERE id = 1", arguments: [batch])
                    for change in changes { try Self.write(change, batch: batch, db: db, actor: actor, at: time) }
                    return .commit
                }
                return batch
            }
        } catch let error as ConflictFound where error.storeMoved {
            throw StoreError.storeMoved(error.conflict, basedOn: basedOn, path: path)
        } catch let error as ConflictFound {
            throw StoreError.changedByAnother(error.conflict, path: path)
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    /// Refuses `change` unless the stored resource is what it expects.
    private static func check(_ change: ResourceChange, db: Database) throws {
        let key = change.key
        let row = try Row.fetchOne(
            db, sql: "SELECT generation, revision FROM resource WHERE apiGroup = ? AND kind = ? AND namespace = ? AND name = ?",
            arguments: [key.group, key.kind, key.namespace, key.name])
        let current: (generation: Int, revision: Int64)? = row.map { ($0["generation"], $0["revision"]) }
        let matches = switch (change.expected, current) {
        case (.absent, nil): true
        case (.version(let generation, let revision), let current?): current.generation == generation && current.revision == revision
        default: false
        }
        guard !matches else { return }
        throw ConflictFound(conflict: .init(
            key: key, expected: change.expected, currentGeneration: current?.generation, currentRevision: current?.revision))
    }

    private static func write(_ change: ResourceChange, batch: Int64, db: Database, actor: String, at time: Date) throws {
        let key = change.key
        if let document = change.document {
            try db.execute(
                sql: """
                    INSERT INTO resource (apiGroup, kind, namespace, name, apiVersion, text, file, lineOffset, generation, revision, appliedAt, appliedBy)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (apiGroup, kind, namespace, name) DO UPDATE SET
                      apiVersion = excluded.apiVersion, text = excluded.text, file = excluded.file,
                      lineOffset = excluded.lineOffset, generation = excluded.generation, revision = excluded.revision,
                      appliedAt = excluded.appliedAt, appliedBy = excluded.appliedBy
                    """,
                arguments: [key.group, key.kind, key.namespace, key.name, document.apiVersion, document.text,
                            document.file, document.lineOffset, change.generation, batch, time.timeIntervalSince1970, actor])
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

    public func history(_ filter: HistoryFilter, limit: Int) async throws(StoreError) -> [HistoryEntry] {
        try await reading { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            for (column, value) in [("kind", filter.kind), ("namespace", filter.namespace), ("name", filter.name)] {
                guard let value else { continue }
                conditions.append("\(column) = ? COLLATE NOCASE")
                _ = arguments.append(contentsOf: [value])
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [limit])
            return try Row.fetchAll(db, sql: "SELECT * FROM change \(whereClause) ORDER BY id DESC LIMIT ?", arguments: arguments)
                .map(Self.historyEntry)
        }
    }

    static func historyEntry(_ row: Row) -> HistoryEntry {
        HistoryEntry(
            id: row["id"], batch: row["batch"], at: Date(timeIntervalSince1970: row["at"]), actor: row["actor"],
            operation: ResourceChange.Operation(rawValue: row["operation"]) ?? .configured,
            group: row["apiGroup"], kind: row["kind"], namespace: row["namespace"], name: row["name"],
            generation: row["generation"], origin: row["origin"], diff: row["diff"])
    }

    public func changes(after revision: Int64) -> StoreChanges {
        let cursor = SQLiteChangeCursor(path: path, after: revision, interval: feedInterval, busyTimeout: busyTimeout)
        return StoreChanges(unfolding: { try await cursor.next() })
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

    public func revisions(of function: FunctionKey?) async throws(StoreError) -> [StoredRevision] {
        try await reading { db in
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

    public func dropRevisions(_ keys: [RevisionKey]) async throws(StoreError) {
        guard !keys.isEmpty else { return }
        try await writing { db in
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

    /// `body` in one read transaction, on GRDB's queue (not the caller's thread).
    func reading<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await database.read(body)
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    func writing<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await database.writeWithoutTransaction(body)
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
        migrator.registerMigration("v5-revisions-and-versions") { db in
            // The store revision (the last history batch) and, per resource, the revision that
            // last wrote it: what a commit checks (optimistic concurrency).
            try db.execute(sql: """
                CREATE TABLE store (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL);
                INSERT INTO store (id, revision) VALUES (1, COALESCE((SELECT MAX(batch) FROM change), 0));
                ALTER TABLE resource ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
                UPDATE resource SET revision = COALESCE((SELECT MAX(batch) FROM change c WHERE c.apiGroup = resource.apiGroup
                  AND c.kind = resource.kind AND c.namespace = resource.namespace AND c.name = resource.name), 0);
                CREATE INDEX change_batch ON change (batch);
                """)
        }
        migrator.registerMigration("v6-nodes") { db in
            // The node registry (`NodeRegistry`): on SQLite, the nodes that share this file.
            try db.execute(sql: """
                CREATE TABLE node (
                  name TEXT PRIMARY KEY, owner TEXT NOT NULL, addresses TEXT NOT NULL,
                  startedAt REAL NOT NULL, lastHeartbeat REAL NOT NULL, goneAfter REAL NOT NULL);
                """)
        }
        return migrator
    }
}

extension SQLiteStore {
    /// The stored documents of one kind, read from `path` read only (nothing is migrated or
    /// created): for commands that must not change a state directory another process holds.
    /// Empty when there is no database there.
    public static func storedDocuments(kind: String, path: String) throws(StoreError) -> [ResourceDocument] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        var configuration = Configuration()
        configuration.readonly = true
        do {
            let database = try DatabaseQueue(path: path, configuration: configuration)
            return try database.read { db in
                guard try db.tableExists("resource") else { return [] }
                return try Row.fetchAll(db, sql: "SELECT * FROM resource WHERE kind = ? ORDER BY rowid", arguments: [kind]).map { row in
                    ResourceDocument(
                        key: ResourceKey(group: row["apiGroup"], kind: row["kind"], namespace: row["namespace"], name: row["name"]),
                        apiVersion: row["apiVersion"], text: row["text"], file: row["file"], lineOffset: row["lineOffset"])
                }
            }
        } catch {
            throw storeError(error, path: path)
        }
    }
}
