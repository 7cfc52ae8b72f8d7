import Foundation
import GatehouseCore
import Logging
import PostgresNIO

/// `ConfigStore` in a PostgreSQL database several `gatehouse` nodes share (`up --store
/// postgres://…`), through postgres-nio. Same guarantees as `SQLiteStore`:
///
/// - **Durable.** `commit` returns once PostgreSQL has committed the transaction.
/// - **Optimistic concurrency.** A commit first locks the one `gatehouse_store` row
///   (`SELECT … FOR UPDATE`), then checks every change's `expected` version and `basedOn` inside
///   the same transaction: of two nodes that read the same version, the second to take the lock
///   finds the first's write and gets `.conflict`, naming the resource.
/// - **Revisions.** Commits are serial behind that lock, so revisions (and history ids) are
///   strictly increasing and become visible in order.
/// - **Change feed.** Each commit sends `NOTIFY gatehouse_store` with its revision inside its
///   transaction (delivered only if it commits); every feed LISTENs on its own connection and
///   also checks the stored revision every `catchUpInterval`, so a notification lost with a
///   connection delays a batch by at most that.
///
/// Nothing it logs or throws holds the password; errors name `location` (the URL without it).
public final class PostgresConfigStore: ConfigStore {
    public let location: PostgresStoreLocation
    /// How often a change feed checks the stored revision without a notification (default 1 s).
    public let catchUpInterval: Duration
    private let connections: PostgresConnections
    private let logger: Logger
    /// Called each time a feed, having read all there was, starts to wait: lets a test commit
    /// only once a feed waits, so what it measures is the wake-up, not the first read.
    let feedWaits: @Sendable () -> Void
    static let channel = "gatehouse_store"

    /// Connects, and brings the schema up to date (once, whichever node gets there first).
    /// `logger` receives postgres-nio's own messages; by default they are dropped.
    public convenience init(
        location: PostgresStoreLocation, catchUpInterval: Duration = .seconds(1),
        logger: Logger = Logger(label: "gatehouse.store.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws(StoreError) {
        try await self.init(location: location, catchUpInterval: catchUpInterval, logger: logger, feedWaits: {})
    }

    init(location: PostgresStoreLocation, catchUpInterval: Duration, logger: Logger, feedWaits: @escaping @Sendable () -> Void) async throws(StoreError) {
        self.feedWaits = feedWaits
        self.location = location
        self.catchUpInterval = catchUpInterval
        self.logger = logger
        do {
            connections = try PostgresConnections(location, logger: logger)
        } catch {
            throw StoreError(.failed, path: location.description, detail: "cannot set up TLS for the store (sslrootcert=\(location.rootCertificates ?? "-")): \(error)")
        }
        do {
            try await connections.with { [logger] connection in try await PostgresSchema.migrate(connection, logger: logger) }
        } catch {
            throw Self.storeError(error, location: location)
        }
    }

    /// Closes the idle connections (feeds close their own when their task ends).
    public func close() async { await connections.closeAll() }

    public func state() async throws(StoreError) -> StoreState {
        // One snapshot for both reads.
        try await transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { connection, logger in
            let revision = try await Self.revision(connection, logger: logger)
            var resources: [StoredResource] = []
            for try await row in try await connection.query("SELECT * FROM gatehouse_resource ORDER BY position", logger: logger) {
                resources.append(try Self.resource(row.makeRandomAccess()))
            }
            return StoreState(revision: revision, resources: resources)
        }
    }

    public func revision() async throws(StoreError) -> Int64 {
        try await using { connection, logger in try await Self.revision(connection, logger: logger) }
    }

    static func revision(_ connection: PostgresConnection, logger: Logger, locking: Bool = false) async throws -> Int64 {
        let sql = "SELECT revision FROM gatehouse_store WHERE id = 1" + (locking ? " FOR UPDATE" : "")
        for try await revision in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int64.self) {
            return revision
        }
        return 0
    }

    @discardableResult
    public func commit(_ changes: [ResourceChange], basedOn: Int64? = nil, actor: String, at time: Date) async throws(StoreError) -> Int64 {
        guard !changes.isEmpty else { return try await revision() }
        let outcome = try await using { connection, logger in
            try await PostgresCommit(changes: changes, basedOn: basedOn, actor: actor, time: time, connection: connection, logger: logger).run()
        }
        switch outcome {
        case .committed(let revision): return revision
        case .changedByAnother(let conflict): throw StoreError.changedByAnother(conflict, path: location.description)
        case .storeMoved(let conflict): throw StoreError.storeMoved(conflict, basedOn: basedOn, path: location.description)
        }
    }

    public func history(_ filter: HistoryFilter, limit: Int) async throws(StoreError) -> [HistoryEntry] {
        try await using { connection, logger in
            let query: PostgresQuery = """
                SELECT * FROM gatehouse_change
                WHERE (\(filter.kind)::text IS NULL OR lower(kind) = lower(\(filter.kind)))
                  AND (\(filter.namespace)::text IS NULL OR lower(namespace) = lower(\(filter.namespace)))
                  AND (\(filter.name)::text IS NULL OR lower(name) = lower(\(filter.name)))
                ORDER BY id DESC LIMIT \(limit)
                """
            var entries: [HistoryEntry] = []
            for try await row in try await connection.query(query, logger: logger) {
                entries.append(try Self.historyEntry(row.makeRandomAccess()))
            }
            return entries
        }
    }

    public func revisions(of function: FunctionKey?) async throws(StoreError) -> [StoredRevision] {
        try await using { connection, logger in
            let query: PostgresQuery = if let function {
                "SELECT * FROM gatehouse_revision WHERE namespace = \(function.namespace) AND name = \(function.name) ORDER BY number"
            } else {
                "SELECT * FROM gatehouse_revision ORDER BY namespace, name, number"
            }
            var revisions: [StoredRevision] = []
            for try await row in try await connection.query(query, logger: logger) {
                revisions.append(try Self.storedRevision(row.makeRandomAccess()))
            }
            return revisions
        }
    }

    public func dropRevisions(_ keys: [RevisionKey]) async throws(StoreError) {
        guard !keys.isEmpty else { return }
        try await transaction { connection, logger in
            for key in keys {
                try await connection.query(
                    """
                    DELETE FROM gatehouse_revision
                    WHERE namespace = \(key.function.namespace) AND name = \(key.function.name) AND number = \(key.number)
                    """, logger: logger)
            }
        }
    }

    public func changes(after revision: Int64) -> StoreChanges {
        let cursor = PostgresChangeCursor(
            connections: connections, after: revision, catchUpInterval: catchUpInterval, logger: logger, waits: feedWaits)
        return StoreChanges(unfolding: { [location] in
            do {
                return try await cursor.next()
            } catch let error as CancellationError {
                await cursor.close()
                throw error
            } catch {
                await cursor.close()
                throw Self.storeError(error, location: location)
            }
        })
    }

    /// `body` in one transaction begun by `begin` (`BEGIN ISOLATION LEVEL …`), committed before
    /// this returns, rolled back if it throws.
    ///
    /// Runs in a task of its own, awaited here: a transaction, once started, completes even if its
    /// caller is cancelled (a client that hung up, a group commit's leader). postgres-nio ends a
    /// row sequence early when the consuming task is cancelled, and rows cut off that way would be
    /// taken for all there are (a totals row missing, a fired mark not seen) and then committed.
    func transaction<T: Sendable>(
        _ begin: String = "BEGIN ISOLATION LEVEL READ COMMITTED", _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws(StoreError) -> T {
        let outcome = await Task { () async -> Result<T, StoreError> in
            do throws(StoreError) {
                return .success(try await using { connection, logger in
                    try await connection.query(PostgresQuery(unsafeSQL: begin), logger: logger)
                    do {
                        let value = try await body(connection, logger)
                        try await connection.query("COMMIT", logger: logger)
                        return value
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: logger)
                        throw error
                    }
                })
            } catch {
                return .failure(error)
            }
        }.value
        return try outcome.get()
    }

    /// `body` on a pooled connection; any failure as a `StoreError` naming the redacted URL.
    func using<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) async throws(StoreError) -> T {
        do {
            return try await connections.with { [logger] connection in try await body(connection, logger) }
        } catch {
            throw Self.storeError(error, location: location)
        }
    }
}
