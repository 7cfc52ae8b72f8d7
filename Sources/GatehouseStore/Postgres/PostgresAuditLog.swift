import Foundation
import Logging
import PostgresNIO

/// The audit log of a mesh whose nodes share PostgreSQL: one chain every node appends to, in the
/// tables `gatehouse_audit_record`, `_checkpoint`, `_signer` and `_anchor` (the columns of
/// `SQLiteAuditLog`'s file), on the config store's connections.
///
/// **Several writers, one chain.** Every write is one transaction that first takes a transaction
/// advisory lock (`auditLock`), then reads the head and appends after it. Writers are therefore
/// serial: a record's `prev` is always the record committed just before it, whichever node wrote
/// either, and two nodes never checkpoint on the same previous checkpoint. The lock is released
/// by the commit, or by the server when a node dies mid-write (its transaction rolls back, so a
/// record is in the chain only once it was acknowledged).
///
/// **Readers** (`walk`, `records`) read one snapshot (`REPEATABLE READ`) without the lock: writes
/// commit in chain order, so a snapshot always holds a prefix of the chain.
public final class PostgresAuditLog: AuditLog {
    let store: PostgresConfigStore
    /// `pg_advisory_xact_lock` key: "gateaudi" in ASCII, beside the migration lock's "gatehous".
    static let auditLock: Int64 = 0x6761_7465_6175_6469
    /// Held by the one node pruning ("gateprun").
    static let pruneLock: Int64 = 0x6761_7465_7072_756E
    /// Rows per INSERT: 13 parameters each, well under PostgreSQL's 65 535.
    static let rowsPerInsert = 1000

    /// The chain in `store`'s database (its schema is migrated when the store connects).
    public init(store: PostgresConfigStore) {
        self.store = store
    }

    var path: String { store.location.description }

    public func append(_ events: [AuditEvent]) async throws(StoreError) -> [AuditRecord] {
        guard !events.isEmpty else { return [] }
        return try await write { connection, logger in try await Self.append(events, connection, logger) }
    }

    @discardableResult
    public func checkpoint(_ sign: @escaping @Sendable (AuditHead) throws -> (AuditCheckpoint, AuditSignerChain)?) async throws(StoreError) -> AuditCheckpoint? {
        try await write { connection, logger in
            guard let (checkpoint, signer) = try sign(try await Self.head(connection, logger)) else { return nil }
            try await connection.query(
                """
                INSERT INTO gatehouse_audit_signer (fingerprint, spiffe_id, chain) VALUES (\(signer.fingerprint), \(signer.spiffeId), \(signer.pem))
                ON CONFLICT (fingerprint) DO NOTHING
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO gatehouse_audit_checkpoint (seq, hash, previous, at, signer, signer_fingerprint, signature)
                VALUES (\(checkpoint.seq), \(checkpoint.hash), \(checkpoint.previous), \(checkpoint.at), \(checkpoint.signer),
                        \(checkpoint.signerFingerprint), \(checkpoint.signature))
                """, logger: logger)
            // The checkpoint in the chain too: deleting its row is then a record naming what is gone.
            var event = AuditEvent(kind: .checkpointed, at: checkpoint.date ?? Date())
            event.checkpointSeq = checkpoint.seq
            event.checkpointHash = checkpoint.hash
            _ = try await Self.append([event], connection, logger)
            return checkpoint
        }
    }

    public func latestCheckpoint() async throws(StoreError) -> AuditCheckpoint? {
        try await store.using { connection, logger in
            for try await row in try await connection.query("SELECT * FROM gatehouse_audit_checkpoint ORDER BY seq DESC LIMIT 1", logger: logger) {
                return try Self.checkpoint(row.makeRandomAccess())
            }
            return nil
        }
    }

    public func head() async throws(StoreError) -> AuditHead {
        try await store.using { connection, logger in try await Self.head(connection, logger) }
    }

    public func records(_ query: AuditQuery) async throws(StoreError) -> [AuditRecord] {
        try await store.using { connection, logger in
            let rows = try await connection.query(Self.select(query), logger: logger)
            var records: [AuditRecord] = []
            for try await row in rows { records.append(AuditRecord(stored: try Self.walkRow(row.makeRandomAccess()))) }
            return query.after == nil ? records.reversed() : records
        }
    }

    public func walk(outside: AuditCheckpoint?) async throws(StoreError) -> AuditChainWalk.Result {
        try await snapshot { connection, logger in
            var anchor: AuditAnchor?
            for try await (seq, hash, at) in try await connection.query(
                "SELECT seq, hash, at FROM gatehouse_audit_anchor WHERE id = 1", logger: logger
            ).decode((Int64, String, String).self) {
                anchor = AuditAnchor(seq: seq, hash: hash, at: AuditCoding.date(at) ?? Date(timeIntervalSince1970: 0))
            }
            var checkpoints: [AuditCheckpoint] = []
            for try await row in try await connection.query("SELECT * FROM gatehouse_audit_checkpoint ORDER BY seq", logger: logger) {
                checkpoints.append(try Self.checkpoint(row.makeRandomAccess()))
            }
            var signers: [AuditSignerChain] = []
            for try await (fingerprint, spiffeId, chain) in try await connection.query(
                "SELECT fingerprint, spiffe_id, chain FROM gatehouse_audit_signer", logger: logger
            ).decode((String, String, String).self) {
                signers.append(AuditSignerChain(fingerprint: fingerprint, spiffeId: spiffeId, pem: chain))
            }
            var walk = AuditChainWalk(anchor: anchor, checkpoints: checkpoints, signers: signers, outside: outside)
            // Streamed: postgres-nio reads ahead only as far as the walk keeps up.
            for try await row in try await connection.query("SELECT * FROM gatehouse_audit_record ORDER BY seq", logger: logger) {
                walk.visit(try Self.walkRow(row.makeRandomAccess()))
                if walk.problem != nil { break }
            }
            return walk.finish()
        }
    }

    /// PostgreSQL's autovacuum gives pruned space back to the table; nothing to do here.
    public func compact() async throws(StoreError) {}

    // MARK: Rows

    static func append(_ events: [AuditEvent], _ connection: PostgresConnection, _ logger: Logger) async throws -> [AuditRecord] {
        let head = try await head(connection, logger)
        guard head.seq < Int64.max - Int64(events.count) else {
            throw StoreError(.corrupt, path: "gatehouse_audit_record", detail: "the chain's last record is numbered \(head.seq): no room after it (run gatehouse audit verify)")
        }
        var previous = head.hash, seq = head.seq
        var records: [AuditRecord] = []
        records.reserveCapacity(events.count)
        for event in events {
            seq += 1
            let record = AuditRecord.chained(event, seq: seq, after: previous)
            previous = record.hash
            records.append(record)
        }
        for start in stride(from: 0, to: records.count, by: rowsPerInsert) {
            try await connection.query(insert(records[start..<min(start + rowsPerInsert, records.count)]), logger: logger)
        }
        return records
    }

    /// One multi-row INSERT of `records`, every value a bound parameter.
    private static func insert(_ records: ArraySlice<AuditRecord>) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: records.count * 13)
        var tuples: [String] = []
        tuples.reserveCapacity(records.count)
        for record in records {
            let row = AuditChainWalk.Row(record)
            let first = bindings.count + 1
            tuples.append("(" + (first..<first + 13).map { "$\($0)" }.joined(separator: ", ") + ")")
            bindings.append(row.seq)
            bindings.append(row.at)
            bindings.append(row.kind)
            bindings.append(row.requestId)
            bindings.append(row.traceId)
            bindings.append(row.sourcePrincipal)
            bindings.append(row.requestPrincipal)
            bindings.append(row.function)
            bindings.append(row.decision)
            bindings.append(row.action)
            bindings.append(row.body)
            bindings.append(row.previousHash)
            bindings.append(row.hash)
        }
        let sql = """
            INSERT INTO gatehouse_audit_record
              (seq, at, kind, request_id, trace_id, source_principal, request_principal, function, decision, action, body, prev, hash)
            VALUES \(tuples.joined(separator: ", "))
            """
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    /// The `records` query: every filter a bound parameter.
    static func select(_ query: AuditQuery) -> PostgresQuery {
        var bindings = PostgresBindings()
        var conditions: [String] = []
        func parameter(_ value: String) -> String {
            bindings.append(value)
            return "$\(bindings.count)"
        }
        func parameter(_ value: Int64) -> String {
            bindings.append(value)
            return "$\(bindings.count)"
        }
        if let since = query.since { conditions.append("at >= \(parameter(AuditCoding.timestamp(since)))") }
        if let until = query.until { conditions.append("at <= \(parameter(AuditCoding.timestamp(until)))") }
        if let principal = query.principal {
            let bare = parameter(principal), prefixed = parameter("spiffe://" + principal)
            // An agent is found by the records of what it did for people, too (`actors` in the body).
            conditions.append(
                "(source_principal IN (\(bare), \(prefixed)) OR request_principal = \(bare) OR gatehouse_audit_actors(body) ?| ARRAY[\(bare), \(prefixed)])")
        }
        if let function = query.function { conditions.append("function = \(parameter(function))") }
        if let decision = query.decision { conditions.append("decision = \(parameter(decision.lowercased()))") }
        if let action = query.action { conditions.append("lower(action) = lower(\(parameter(action)))") }
        if let kind = query.kind { conditions.append("kind = \(parameter(kind))") }
        if let after = query.after { conditions.append("seq > \(parameter(after))") }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let order = query.after == nil ? "DESC" : "ASC"
        let limit = parameter(Int64(max(0, query.limit)))
        return PostgresQuery(unsafeSQL: "SELECT * FROM gatehouse_audit_record \(filter) ORDER BY seq \(order) LIMIT \(limit)", binds: bindings)
    }

    static func head(_ connection: PostgresConnection, _ logger: Logger) async throws -> AuditHead {
        var checkpointSeq: Int64 = 0
        for try await seq in try await connection.query("SELECT COALESCE(MAX(seq), 0) FROM gatehouse_audit_checkpoint", logger: logger).decode(Int64.self) {
            checkpointSeq = seq
        }
        for try await (seq, hash) in try await connection.query(
            "SELECT seq, hash FROM gatehouse_audit_record ORDER BY seq DESC LIMIT 1", logger: logger
        ).decode((Int64, String).self) {
            var recorded = false
            for try await _ in try await connection.query(
                "SELECT 1 FROM gatehouse_audit_record WHERE seq = \(checkpointSeq + 1) AND kind = \(AuditKind.checkpointed.rawValue)", logger: logger)
            {
                recorded = true
            }
            return AuditHead(seq: seq, hash: hash, checkpointSeq: checkpointSeq, signedSeq: recorded ? checkpointSeq + 1 : checkpointSeq)
        }
        for try await (seq, hash) in try await connection.query(
            "SELECT seq, hash FROM gatehouse_audit_anchor WHERE id = 1", logger: logger
        ).decode((Int64, String).self) {
            return AuditHead(seq: seq, hash: hash, checkpointSeq: checkpointSeq)
        }
        return AuditHead(seq: 0, hash: AuditRecord.genesis, checkpointSeq: checkpointSeq)
    }

    static func checkpoint(_ row: PostgresRandomAccessRow) throws -> AuditCheckpoint {
        AuditCheckpoint(
            seq: try row["seq"].decode(Int64.self), hash: try row["hash"].decode(String.self),
            previous: try row["previous"].decode(Int64.self), at: try row["at"].decode(String.self),
            signer: try row["signer"].decode(String.self), signerFingerprint: try row["signer_fingerprint"].decode(String.self),
            signature: try row["signature"].decode(String.self))
    }

    static func walkRow(_ row: PostgresRandomAccessRow) throws -> AuditChainWalk.Row {
        AuditChainWalk.Row(
            seq: try row["seq"].decode(Int64.self), at: try row["at"].decode(String.self), kind: try row["kind"].decode(String.self),
            requestId: try row["request_id"].decode(String?.self), traceId: try row["trace_id"].decode(String?.self),
            sourcePrincipal: try row["source_principal"].decode(String?.self),
            requestPrincipal: try row["request_principal"].decode(String?.self), function: try row["function"].decode(String?.self),
            decision: try row["decision"].decode(String?.self), action: try row["action"].decode(String?.self),
            body: try row["body"].decode(String.self), previousHash: try row["prev"].decode(String.self), hash: try row["hash"].decode(String.self))
    }

    // MARK: Access

    /// `body` in one write transaction holding the chain's lock. READ COMMITTED whatever the
    /// database's default: each statement after the lock sees every append committed before it
    /// (REPEATABLE READ would read a head from before the wait).
    func write<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) async throws(StoreError) -> T {
        try await store.transaction("BEGIN ISOLATION LEVEL READ COMMITTED") { connection, logger in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.auditLock))", logger: logger)
            return try await body(connection, logger)
        }
    }

    /// `body` reading one consistent snapshot.
    private func snapshot<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) async throws(StoreError) -> T {
        try await store.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }
}
