import Foundation
import GatehouseCore
import Logging
import PostgresNIO

/// One `PostgresConfigStore.commit`: a transaction that locks the store row, checks what every
/// change expects, writes the changes, their history and revisions, and notifies the feeds.
/// A failed check rolls back and is an outcome, not an error, so the connection stays usable.
struct PostgresCommit {
    enum Outcome: Sendable {
        case committed(Int64)
        case changedByAnother(StoreError.Conflict)
        case storeMoved(StoreError.Conflict)
    }

    let changes: [ResourceChange]
    let basedOn: Int64?
    let actor: String
    let time: Date
    let connection: PostgresConnection
    let logger: Logger

    func run() async throws -> Outcome {
        try await connection.query("BEGIN", logger: logger)
        do {
            let outcome = try await checkAndWrite()
            try await connection.query(outcome.isCommitted ? "COMMIT" : "ROLLBACK", logger: logger)
            return outcome
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    private func checkAndWrite() async throws -> Outcome {
        // Taken before anything is read: the checks below see every commit before this one.
        let current = try await PostgresConfigStore.revision(connection, logger: logger, locking: true)
        for change in changes {
            if let conflict = try await conflict(change) { return .changedByAnother(conflict) }
        }
        if let basedOn, current != basedOn, let first = changes.first {
            // Another writer committed since the config was validated: refused whole.
            return .storeMoved(.init(key: first.key, expected: first.expected, currentGeneration: nil, currentRevision: current))
        }
        let batch = current + 1
        try await connection.query("UPDATE gatehouse_store SET revision = \(batch) WHERE id = 1", logger: logger)
        for change in changes { try await write(change, batch: batch) }
        // Delivered to listeners only if, and when, this transaction commits.
        try await connection.query("SELECT pg_notify(\(PostgresConfigStore.channel), \(String(batch)))", logger: logger)
        return .committed(batch)
    }

    private func conflict(_ change: ResourceChange) async throws -> StoreError.Conflict? {
        let key = change.key
        var current: (generation: Int, revision: Int64)?
        let rows = try await connection.query(
            """
            SELECT generation, revision FROM gatehouse_resource
            WHERE api_group = \(key.group) AND kind = \(key.kind) AND namespace = \(key.namespace) AND name = \(key.name)
            """, logger: logger)
        for try await (generation, revision) in rows.decode((Int, Int64).self) { current = (generation, revision) }
        let matches = switch (change.expected, current) {
        case (.absent, nil): true
        case (.version(let generation, let revision), let current?): current.generation == generation && current.revision == revision
        default: false
        }
        return matches ? nil : .init(key: key, expected: change.expected, currentGeneration: current?.generation, currentRevision: current?.revision)
    }

    private func write(_ change: ResourceChange, batch: Int64) async throws {
        let key = change.key
        let at = time.timeIntervalSince1970
        if let document = change.document {
            try await connection.query(
                """
                INSERT INTO gatehouse_resource (api_group, kind, namespace, name, api_version, text, file, line_offset,
                  generation, revision, applied_at, applied_by)
                VALUES (\(key.group), \(key.kind), \(key.namespace), \(key.name), \(document.apiVersion), \(document.text),
                  \(document.file), \(document.lineOffset), \(change.generation), \(batch), \(at), \(actor))
                ON CONFLICT (api_group, kind, namespace, name) DO UPDATE SET
                  api_version = excluded.api_version, text = excluded.text, file = excluded.file,
                  line_offset = excluded.line_offset, generation = excluded.generation, revision = excluded.revision,
                  applied_at = excluded.applied_at, applied_by = excluded.applied_by
                """, logger: logger)
        } else {
            try await connection.query(
                """
                DELETE FROM gatehouse_resource
                WHERE api_group = \(key.group) AND kind = \(key.kind) AND namespace = \(key.namespace) AND name = \(key.name)
                """, logger: logger)
        }
        if key.group == "gatehouse.dev", key.kind == "Function" { try await recordRevision(change) }
        try await connection.query(
            """
            INSERT INTO gatehouse_change (batch, at, actor, operation, api_group, kind, namespace, name, generation, origin, diff)
            VALUES (\(batch), \(at), \(actor), \(change.operation.rawValue), \(key.group), \(key.kind), \(key.namespace),
              \(key.name), \(change.generation), \(change.origin), \(change.diff))
            """, logger: logger)
    }

    /// A revision is immutable: the first document of a generation is kept. A deleted Function's go.
    private func recordRevision(_ change: ResourceChange) async throws {
        let key = change.key
        guard let document = change.document else {
            try await connection.query(
                "DELETE FROM gatehouse_revision WHERE namespace = \(key.namespace) AND name = \(key.name)", logger: logger)
            return
        }
        try await connection.query(
            """
            INSERT INTO gatehouse_revision (namespace, name, number, api_version, text, file, line_offset, created_at, created_by)
            VALUES (\(key.namespace), \(key.name), \(change.generation), \(document.apiVersion), \(document.text),
              \(document.file), \(document.lineOffset), \(time.timeIntervalSince1970), \(actor))
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }
}

extension PostgresCommit.Outcome {
    var isCommitted: Bool {
        if case .committed = self { true } else { false }
    }
}
