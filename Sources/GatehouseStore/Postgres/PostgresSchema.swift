import Logging
import PostgresNIO

/// The config store's tables in PostgreSQL, brought up to date by numbered steps. Each step that
/// ran is a row of `gatehouse_schema`; the steps run under an advisory lock, so of several nodes
/// that start at once one migrates and the others, waiting on the lock, find it done.
enum PostgresSchema {
    /// `pg_advisory_lock` key: "gatehous" in ASCII, so it does not collide with another
    /// application's small integers in a shared database.
    static let migrationLock: Int64 = 0x6761_7465_686F_7573

    /// Every step, in order; a step is never edited once released, only followed by another.
    static let steps: [(version: Int, sql: [String])] = [
        (1, [
            """
            CREATE TABLE gatehouse_resource (
              position BIGSERIAL NOT NULL,
              api_group TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
              api_version TEXT NOT NULL, text TEXT NOT NULL, file TEXT NOT NULL, line_offset BIGINT NOT NULL,
              generation BIGINT NOT NULL, revision BIGINT NOT NULL,
              applied_at DOUBLE PRECISION NOT NULL, applied_by TEXT NOT NULL,
              PRIMARY KEY (api_group, kind, namespace, name))
            """,
            """
            CREATE TABLE gatehouse_change (
              id BIGSERIAL PRIMARY KEY, batch BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL,
              operation TEXT NOT NULL, api_group TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL,
              name TEXT NOT NULL, generation BIGINT NOT NULL, origin TEXT NOT NULL, diff TEXT NOT NULL)
            """,
            "CREATE INDEX gatehouse_change_batch ON gatehouse_change (batch)",
            "CREATE INDEX gatehouse_change_resource ON gatehouse_change (lower(kind), lower(namespace), lower(name))",
            """
            CREATE TABLE gatehouse_revision (
              namespace TEXT NOT NULL, name TEXT NOT NULL, number BIGINT NOT NULL,
              api_version TEXT NOT NULL, text TEXT NOT NULL, file TEXT NOT NULL, line_offset BIGINT NOT NULL,
              created_at DOUBLE PRECISION NOT NULL, created_by TEXT NOT NULL,
              PRIMARY KEY (namespace, name, number))
            """,
            // The newest store revision. Every commit locks this row first: commits are serial, so
            // batch numbers (and history ids) become visible in order.
            "CREATE TABLE gatehouse_store (id INT PRIMARY KEY CHECK (id = 1), revision BIGINT NOT NULL)",
            "INSERT INTO gatehouse_store (id, revision) VALUES (1, 0)",
        ]),
        // Scheduled minutes claimed by one node of the mesh: no longer used (the event queue's
        // fired marks are the mesh's since step 6); dropped by step 9.
        (2, [
            """
            CREATE TABLE gatehouse_schedule_claim (
              schedule TEXT NOT NULL, minute BIGINT NOT NULL, node TEXT NOT NULL,
              claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (schedule, minute))
            """,
        ]),
        // Nodes joining the mesh's CA with a join token (`NodeJoining`).
        (3, [
            """
            CREATE TABLE gatehouse_join_token (
              hash TEXT PRIMARY KEY, expires_at TIMESTAMPTZ NOT NULL, created_by TEXT NOT NULL,
              created_at TIMESTAMPTZ NOT NULL DEFAULT now(), used_at TIMESTAMPTZ, used_by TEXT)
            """,
            """
            CREATE TABLE gatehouse_join_request (
              id BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, public_key TEXT NOT NULL, token TEXT,
              created_at TIMESTAMPTZ NOT NULL DEFAULT now(), answered_at TIMESTAMPTZ,
              chain TEXT, bundle TEXT, refusal TEXT)
            """,
        ]),
        (4, [
            // The node registry (`NodeRegistry`): times are the database's (`now()`), so nodes'
            // clocks do not matter; `gone_after` (seconds) is the interval the node itself promised.
            """
            CREATE TABLE gatehouse_node (
              name TEXT PRIMARY KEY, owner TEXT NOT NULL, addresses TEXT NOT NULL,
              started_at TIMESTAMPTZ NOT NULL, last_heartbeat TIMESTAMPTZ NOT NULL,
              gone_after DOUBLE PRECISION NOT NULL)
            """,
        ]),
        (5, [
            // The mesh's one audit chain (`PostgresAuditLog`): the columns of `STATE_DIR/audit.db`.
            """
            CREATE TABLE gatehouse_audit_record (
              seq BIGINT PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, request_id TEXT, trace_id TEXT,
              source_principal TEXT, request_principal TEXT, function TEXT, decision TEXT, action TEXT,
              body TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)
            """,
            "CREATE INDEX gatehouse_audit_record_at ON gatehouse_audit_record (at)",
            "CREATE INDEX gatehouse_audit_record_request ON gatehouse_audit_record (request_id)",
            """
            CREATE TABLE gatehouse_audit_checkpoint (
              seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, previous BIGINT NOT NULL, at TEXT NOT NULL,
              signer TEXT NOT NULL, signer_fingerprint TEXT NOT NULL, signature TEXT NOT NULL)
            """,
            "CREATE TABLE gatehouse_audit_signer (fingerprint TEXT PRIMARY KEY, spiffe_id TEXT NOT NULL, chain TEXT NOT NULL)",
            """
            CREATE TABLE gatehouse_audit_anchor (
              id INT PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL, at TEXT NOT NULL)
            """,
            // The agents a record names (`actors`), read from the hashed body itself; a body that
            // is no longer JSON (edited by hand) names none rather than failing the whole query.
            """
            CREATE FUNCTION gatehouse_audit_actors(body TEXT) RETURNS JSONB LANGUAGE plpgsql IMMUTABLE AS $$
            BEGIN
              RETURN body::jsonb -> 'actors';
            EXCEPTION WHEN others THEN
              RETURN NULL;
            END
            $$
            """,
        ]),
        // The shared event queue (`PostgresEventStore`).
        (6, eventTables),
        // Token buckets shared by the nodes (`SharedRateLimits`).
        (7, [
            """
            CREATE TABLE gatehouse_rate_take (
              node TEXT NOT NULL, policy TEXT NOT NULL, key TEXT NOT NULL,
              total BIGINT NOT NULL, last_taken BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
              PRIMARY KEY (node, policy, key))
            """,
            "CREATE INDEX gatehouse_rate_take_updated ON gatehouse_rate_take (updated_at)",
        ]),
        // The root holder's trust bundle, and joined nodes renewing their intermediates (`NodeJoining`).
        (8, [
            "CREATE TABLE gatehouse_trust_bundle (id INT PRIMARY KEY CHECK (id = 1), bundle TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)",
            "ALTER TABLE gatehouse_join_request ADD COLUMN renewal_chain TEXT, ADD COLUMN renewal_proof TEXT",
            // The intermediate each node was given last (SHA-256 of its PEM): the only one a renewal takes.
            "CREATE TABLE gatehouse_node_intermediate (node TEXT PRIMARY KEY, chain_hash TEXT NOT NULL, issued_at TIMESTAMPTZ NOT NULL)",
        ]),
        (9, ["DROP TABLE gatehouse_schedule_claim"]),
    ]

    /// Runs the steps not yet recorded, each in its own transaction, holding the advisory lock
    /// (a session lock, released before returning, and by the server if the connection drops).
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_lock(\(migrationLock))", logger: logger)
        do {
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS gatehouse_schema (version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                logger: logger)
            var applied: Set<Int> = []
            for try await version in try await connection.query("SELECT version FROM gatehouse_schema", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            if let newest = applied.max(), newest > latest { throw NewerSchema(version: newest) }
            for step in steps where !applied.contains(step.version) {
                try await connection.query("BEGIN", logger: logger)
                do {
                    for statement in step.sql { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                    try await connection.query("INSERT INTO gatehouse_schema (version) VALUES (\(step.version))", logger: logger)
                    try await connection.query("COMMIT", logger: logger)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
            throw error
        }
        try await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
    }

    /// The database was migrated by a newer Gatehouse: this one must not write to it.
    struct NewerSchema: Error, CustomStringConvertible {
        let version: Int
        var description: String { "its schema is at version \(version), newer than this gatehouse knows (\(latest)); run the newer gatehouse" }
    }

    /// The newest step this build knows; a database migrated further by a newer Gatehouse is refused.
    static var latest: Int { steps.map(\.version).max() ?? 0 }
}
