import Foundation
import GRDB

/// The audit log in its own SQLite file, `STATE_DIR/audit.db`, in tables an operator can read with
/// `sqlite3`: `audit_record` (the chain: `seq`, `at`, `kind`, indexed columns, `body` — the
/// canonical JSON the hash covers —, `prev`, `hash`), `audit_checkpoint`, `audit_signer` (each
/// signing certificate's chain, once) and `audit_anchor` (where the chain starts after retention).
///
/// Its own file, not `gatehouse.db` or `decisions.db`: records are written with every request
/// that is denied, so they must never hold the lock an apply needs; and unlike the decision log
/// (a day of every decision, pruned freely) the chain is kept for months, cut only at checkpoints.
///
/// WAL journal with `synchronous=FULL`: a commit is on disk before `append` returns (an admin
/// change is acknowledged only after its record is), and a reader — `gatehouse audit verify`
/// while Gatehouse runs — never blocks the writer. Every write is one `BEGIN IMMEDIATE`
/// transaction that reads the head first, so several processes may append to one chain.
public final class SQLiteAuditLog: AuditLog {
    public let path: String
    let database: DatabaseQueue

    /// Opens (creating when absent, owner-only) the log at `path`. `readOnly`: for verifying or
    /// reading a state directory another process holds; nothing is created or changed.
    public init(path: String, readOnly: Bool = false, busyTimeout: TimeInterval = 5) throws(StoreError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "gatehouse.audit"
        configuration.readonly = readOnly
        if !readOnly { configuration.journalMode = .wal }
        do {
            if readOnly {
                guard FileManager.default.fileExists(atPath: path) else {
                    throw StoreError(.failed, path: path, detail: "there is no audit log here (Gatehouse writes it from its first start on)")
                }
            } else {
                try PrivateFile.create(path)
            }
            database = try DatabaseQueue(path: path, configuration: configuration)
            if readOnly {
                let present = try database.read { try $0.tableExists("audit_record") }
                guard present else { throw StoreError(.corrupt, path: path, detail: "no audit_record table: this is not an audit log") }
            } else {
                try database.writeWithoutTransaction { db in
                    // Here, not in `prepareDatabase`: GRDB sets NORMAL after that when it turns WAL on.
                    try db.execute(sql: "PRAGMA synchronous = FULL")
                    // Settable only on a file without tables, and GRDB already wrote a page turning
                    // WAL on: VACUUM makes it take (instant while the file is empty).
                    let isNew = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") == 0
                    if isNew, try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") != 2 {
                        try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                        try db.execute(sql: "VACUUM")
                    }
                }
                try Self.migrator.migrate(database)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw SQLiteStore.storeError(error, path: path)
        }
    }

    public func append(_ events: [AuditEvent]) async throws(StoreError) -> [AuditRecord] {
        guard !events.isEmpty else { return [] }
        return try await write { db in try Self.append(events, db) }
    }

    @discardableResult
    public func checkpoint(_ sign: @escaping @Sendable (AuditHead) throws -> (AuditCheckpoint, AuditSignerChain)?) async throws(StoreError) -> AuditCheckpoint? {
        try await write { db in
            guard let (checkpoint, signer) = try sign(try Self.head(db)) else { return nil }
            try db.execute(
                sql: "INSERT OR IGNORE INTO audit_signer (fingerprint, spiffeId, chain) VALUES (?, ?, ?)",
                arguments: [signer.fingerprint, signer.spiffeId, signer.pem])
            try db.execute(
                sql: """
                    INSERT INTO audit_checkpoint (seq, hash, previous, at, signer, signerFingerprint, signature)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [checkpoint.seq, checkpoint.hash, checkpoint.previous, checkpoint.at, checkpoint.signer,
                            checkpoint.signerFingerprint, checkpoint.signature])
            // The checkpoint in the chain too: deleting its row is then a record naming what is gone.
            var event = AuditEvent(kind: .checkpointed, at: checkpoint.date ?? Date())
            event.checkpointSeq = checkpoint.seq
            event.checkpointHash = checkpoint.hash
            _ = try Self.append([event], db)
            return checkpoint
        }
    }

    public func latestCheckpoint() async throws(StoreError) -> AuditCheckpoint? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM audit_checkpoint ORDER BY seq DESC LIMIT 1").map(Self.checkpoint)
        }
    }

    public func head() async throws(StoreError) -> AuditHead {
        try await read { db in try Self.head(db) }
    }

    public func records(_ query: AuditQuery) async throws(StoreError) -> [AuditRecord] {
        try await read { db in
            var conditions: [String] = []
            var arguments: [any DatabaseValueConvertible] = []
            func add(_ condition: String, _ values: any DatabaseValueConvertible...) {
                conditions.append(condition)
                arguments += values
            }
            if let since = query.since { add("at >= ?", AuditCoding.timestamp(since)) }
            if let until = query.until { add("at <= ?", AuditCoding.timestamp(until)) }
            if let principal = query.principal {
                // An agent is found by the records of what it did for people, too (`actors` in the body).
                add(
                    "(sourcePrincipal = ? OR sourcePrincipal = ? OR requestPrincipal = ? OR EXISTS (SELECT 1 FROM json_each(body, '$.actors') WHERE value IN (?, ?)))",
                    principal, "spiffe://" + principal, principal, principal, "spiffe://" + principal)
            }
            if let function = query.function { add("function = ?", function) }
            if let decision = query.decision { add("decision = ?", decision.lowercased()) }
            if let action = query.action { add("action = ? COLLATE NOCASE", action) }
            if let kind = query.kind { add("kind = ?", kind) }
            if let after = query.after { add("seq > ?", after) }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let order = query.after == nil ? "DESC" : "ASC"
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM audit_record \(filter) ORDER BY seq \(order) LIMIT ?",
                arguments: StatementArguments(arguments + [max(0, query.limit)]))
            let records = rows.map { AuditRecord(stored: Self.walkRow($0)) }
            return query.after == nil ? records.reversed() : records
        }
    }

    public func walk(outside: AuditCheckpoint?) async throws(StoreError) -> AuditChainWalk.Result {
        try await read { db in
            let anchor = try Row.fetchOne(db, sql: "SELECT seq, hash, at FROM audit_anchor WHERE id = 1").map { row in
                AuditAnchor(seq: row["seq"], hash: row["hash"], at: AuditCoding.date(row["at"]) ?? Date(timeIntervalSince1970: 0))
            }
            let checkpoints = try Row.fetchAll(db, sql: "SELECT * FROM audit_checkpoint ORDER BY seq").map(Self.checkpoint)
            let signers = try Row.fetchAll(db, sql: "SELECT * FROM audit_signer").map { row in
                AuditSignerChain(fingerprint: row["fingerprint"], spiffeId: row["spiffeId"], pem: row["chain"])
            }
            var walk = AuditChainWalk(anchor: anchor, checkpoints: checkpoints, signers: signers, outside: outside)
            let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM audit_record ORDER BY seq")
            while let row = try cursor.next() {
                walk.visit(Self.walkRow(row))
                if walk.problem != nil { break }
            }
            return walk.finish()
        }
    }

    public func prune(olderThan cutoff: Date?, toFit bounds: AuditBounds, at now: Date) async throws(StoreError) -> AuditRecord? {
        try await write { db in
            guard let totals = try Row.fetchOne(
                db, sql: "SELECT COUNT(*) AS n, COALESCE(SUM(length(body)), 0) AS bytes, MIN(seq) AS first, MAX(seq) AS last FROM audit_record"),
                let first: Int64 = totals["first"], let last: Int64 = totals["last"] else { return nil }
            let count: Int = totals["n"], bytes: Int = totals["bytes"]
            // The newest record that must go; the cut is the newest checkpoint at or before it.
            var target: Int64 = 0
            var reasons: [String] = []
            let cutoffText = cutoff.map(AuditCoding.timestamp)
            if let cutoffText {
                // Only the prefix that is all older: a request's record carries its start time, so
                // one old-dated record must not take the newer ones before it along.
                let young = try Int64.fetchOne(db, sql: "SELECT MIN(seq) FROM audit_record WHERE at >= ?", arguments: [cutoffText])
                if (young ?? last + 1) > first {
                    target = (young ?? last + 1) - 1
                    reasons.append("older than \(cutoffText)")
                }
            }
            if count > bounds.maxRecords {
                target = max(target, first + Int64(count - bounds.maxRecords / 10 * 9) - 1)
                reasons.append("more than \(bounds.maxRecords) records")
            }
            if bytes > bounds.maxBytes {
                var left = bytes
                let cursor = try Row.fetchCursor(db, sql: "SELECT seq, length(body) AS size FROM audit_record ORDER BY seq")
                while left > bounds.maxBytes / 10 * 9, let row = try cursor.next() {
                    left -= row["size"] as Int
                    target = max(target, row["seq"])
                }
                reasons.append("more than \(bounds.maxBytes >> 20) MiB")
            }
            guard target > 0,
                  let cut = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM audit_checkpoint WHERE seq <= ? AND seq <= ?", arguments: [target, last]),
                  cut >= first, // not the anchor again: that would cut nothing
                  let signed = try String.fetchOne(db, sql: "SELECT hash FROM audit_checkpoint WHERE seq = ?", arguments: [cut])
            else { return nil }
            let carried = try Self.checkedPrefix(through: cut, signed: signed, keptSince: cutoffText, db)
            try db.execute(sql: "DELETE FROM audit_record WHERE seq <= ?", arguments: [cut])
            let removed = db.changesCount
            try db.execute(sql: "DELETE FROM audit_checkpoint WHERE seq < ?", arguments: [cut])
            try db.execute(sql: "DELETE FROM audit_signer WHERE fingerprint NOT IN (SELECT signerFingerprint FROM audit_checkpoint)")
            try db.execute(
                sql: "INSERT OR REPLACE INTO audit_anchor (id, seq, hash, at) VALUES (1, ?, ?, ?)",
                arguments: [cut, signed, AuditCoding.timestamp(now)])
            var event = AuditEvent(kind: .pruned, at: now)
            event.anchorSeq = cut
            event.count = removed
            event.detail = "retention: " + reasons.joined(separator: ", ")
                + (carried.isEmpty ? "" : "; \(carried.count) admin, CA and start/stop record(s) younger than the retention carried forward")
            return try Self.append([event] + carried, db).first
        }
    }

    /// Checks the records about to be cut still chain to the checkpoint they end at (so nothing
    /// edited in them is carried forward, and nothing is deleted that `verify` would have flagged),
    /// and returns the ones to keep: `AuditKind.kept` kinds at or after `keptSince`.
    private static func checkedPrefix(through cut: Int64, signed: String, keptSince: String?, _ db: Database) throws -> [AuditEvent] {
        var previous = try String.fetchOne(db, sql: "SELECT hash FROM audit_anchor WHERE id = 1") ?? AuditRecord.genesis
        var carried: [AuditEvent] = []
        let cursor = try Row.fetchCursor(db, sql: "SELECT seq, kind, at, body, prev, hash FROM audit_record WHERE seq <= ? ORDER BY seq", arguments: [cut])
        while let row = try cursor.next() {
            let seq: Int64 = row["seq"], body: String = row["body"], hash: String = row["hash"]
            guard row["prev"] == previous, AuditRecord.link(previous, body) == hash else {
                throw StoreError(.corrupt, path: "audit.db", detail: "record \(seq) does not chain (run gatehouse audit verify); retention keeps it until it is looked at")
            }
            previous = hash
            let kind = AuditKind(row["kind"] as String)
            guard AuditKind.kept.contains(kind), keptSince.map({ (row["at"] as String) >= $0 }) ?? true,
                  var event = try? AuditCoding.decoder.decode(AuditEvent.self, from: Data(body.utf8)) else { continue }
            event.carriedFrom = event.carriedFrom ?? seq
            carried.append(event)
        }
        guard previous == signed else {
            throw StoreError(.corrupt, path: "audit.db", detail: "the records up to \(cut) do not match its checkpoint (run gatehouse audit verify); retention keeps them")
        }
        return carried
    }

    /// Gives the pages pruning freed back to the file system (outside any transaction).
    public func compact() async throws(StoreError) {
        do {
            try await database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA incremental_vacuum") }
        } catch {
            throw SQLiteStore.storeError(error, path: path)
        }
    }

    // MARK: Rows

    private static func append(_ events: [AuditEvent], _ db: Database) throws -> [AuditRecord] {
        let head = try head(db)
        var previous = head.hash, seq = head.seq
        let insert = try db.cachedStatement(sql: """
            INSERT INTO audit_record (seq, at, kind, requestId, traceId, sourcePrincipal, requestPrincipal, function, decision, action, body, prev, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var records: [AuditRecord] = []
        for event in events {
            seq += 1
            let record = AuditRecord.chained(event, seq: seq, after: previous)
            let row = AuditChainWalk.Row(record)
            try insert.execute(arguments: [
                row.seq, row.at, row.kind, row.requestId, row.traceId, row.sourcePrincipal, row.requestPrincipal, row.function,
                row.decision, row.action, row.body, row.previousHash, row.hash,
            ])
            previous = record.hash
            records.append(record)
        }
        return records
    }

    private static func head(_ db: Database) throws -> AuditHead {
        let checkpointSeq = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM audit_checkpoint") ?? 0
        if let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_record ORDER BY seq DESC LIMIT 1") {
            let recorded = try Bool.fetchOne(
                db, sql: "SELECT 1 FROM audit_record WHERE seq = ? AND kind = ?", arguments: [checkpointSeq + 1, AuditKind.checkpointed.rawValue]) ?? false
            return AuditHead(seq: last["seq"], hash: last["hash"], checkpointSeq: checkpointSeq, signedSeq: recorded ? checkpointSeq + 1 : checkpointSeq)
        }
        if let anchor = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_anchor WHERE id = 1") {
            return AuditHead(seq: anchor["seq"], hash: anchor["hash"], checkpointSeq: checkpointSeq)
        }
        return AuditHead(seq: 0, hash: AuditRecord.genesis, checkpointSeq: checkpointSeq)
    }

    private static func checkpoint(_ row: Row) -> AuditCheckpoint {
        AuditCheckpoint(
            seq: row["seq"], hash: row["hash"], previous: row["previous"], at: row["at"], signer: row["signer"],
            signerFingerprint: row["signerFingerprint"], signature: row["signature"])
    }

    static func walkRow(_ row: Row) -> AuditChainWalk.Row {
        AuditChainWalk.Row(
            seq: row["seq"], at: row["at"], kind: row["kind"], requestId: row["requestId"], traceId: row["traceId"],
            sourcePrincipal: row["sourcePrincipal"], requestPrincipal: row["requestPrincipal"], function: row["function"],
            decision: row["decision"], action: row["action"], body: row["body"], previousHash: row["prev"], hash: row["hash"])
    }

    // MARK: Access

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await database.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw SQLiteStore.storeError(error, path: path)
        }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await database.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw SQLiteStore.storeError(error, path: path)
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("audit-v1") { db in
            try db.execute(sql: """
                CREATE TABLE audit_record (
                  seq INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, requestId TEXT, traceId TEXT,
                  sourcePrincipal TEXT, requestPrincipal TEXT, function TEXT, decision TEXT, action TEXT,
                  body TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
                CREATE INDEX audit_record_at ON audit_record (at);
                CREATE INDEX audit_record_request ON audit_record (requestId);
                CREATE TABLE audit_checkpoint (
                  seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, previous INTEGER NOT NULL, at TEXT NOT NULL,
                  signer TEXT NOT NULL, signerFingerprint TEXT NOT NULL, signature TEXT NOT NULL);
                CREATE TABLE audit_signer (fingerprint TEXT PRIMARY KEY, spiffeId TEXT NOT NULL, chain TEXT NOT NULL);
                CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL, at TEXT NOT NULL);
                """)
        }
        return migrator
    }
}
