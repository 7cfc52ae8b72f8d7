import GatehouseCore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// One change feed of `PostgresConfigStore`: the batches committed after a revision, by any node,
/// one per `next()`.
///
/// It keeps a connection of its own that LISTENs on the store's channel; a notification (sent in
/// each commit's transaction) wakes it at once. It also wakes every `catchUpInterval` and
/// compares the stored revision with the last it read, because a notification sent while its
/// connection was being replaced is lost. Either way it reads the history by batch number, so
/// nothing is missed and nothing is read twice.
///
/// `next()` is called by the one task iterating the feed and throws `CancellationError` when
/// that task is cancelled. Its waits are child tasks of that call; nothing outlives it.
final class PostgresChangeCursor: Sendable {
    private struct State {
        var connection: PostgresConnection?
        var last: Int64
        var pending: [StoreBatch] = []
    }

    /// History rows read per query: a feed that fell far behind catches up in steps.
    static let rowsPerRead = 5_000

    private let connections: PostgresConnections
    private let catchUpInterval: Duration
    private let logger: Logger
    private let state: Mutex<State>
    /// Notifications, reduced to "something was committed" (one kept while nobody waits). Not an
    /// `AsyncStream`: a wait on one that is cancelled (the catch-up timer won) ends the stream, and
    /// the feed then polled the store without pause.
    private let wake = Wakeup()

    private let waits: @Sendable () -> Void

    init(connections: PostgresConnections, after revision: Int64, catchUpInterval: Duration, logger: Logger, waits: @escaping @Sendable () -> Void) {
        self.connections = connections
        self.waits = waits
        self.catchUpInterval = catchUpInterval
        self.logger = logger
        state = Mutex(State(last: revision))
    }

    deinit {
        // A feed dropped without its task being cancelled still gives its connection back.
        if let connection = state.withLock({ $0.connection }) { PostgresConnections.closeAndKeep(connection) }
    }

    func next() async throws -> StoreBatch? {
        while true {
            if let batch = state.withLock({ $0.pending.isEmpty ? nil : $0.pending.removeFirst() }) { return batch }
            try Task.checkCancellation()
            let connection = try await connect()
            let last = state.withLock { $0.last }
            if try await PostgresConfigStore.revision(connection, logger: logger) > last {
                let batches = try await read(after: last, on: connection)
                if !batches.isEmpty {
                    state.withLock { state in
                        state.pending += batches
                        state.last = batches.last?.revision ?? state.last
                    }
                    continue
                }
            }
            waits()
            await waitForCommit()
        }
    }

    func close() async {
        let connection = state.withLock { state in
            defer { state.connection = nil }
            return state.connection
        }
        try? await connection?.close()
    }

    private func read(after last: Int64, on connection: PostgresConnection) async throws -> [StoreBatch] {
        var rows: [HistoryEntry] = []
        let query: PostgresQuery = "SELECT * FROM gatehouse_change WHERE batch > \(last) ORDER BY id LIMIT \(Self.rowsPerRead)"
        for try await row in try await connection.query(query, logger: logger) {
            rows.append(try PostgresConfigStore.historyEntry(row.makeRandomAccess()))
        }
        // One batch filled the page: it is read whole (a batch is one commit, never skipped in part).
        if rows.count == Self.rowsPerRead, let batch = rows.first?.batch, rows.last?.batch == batch {
            rows = []
            for try await row in try await connection.query("SELECT * FROM gatehouse_change WHERE batch = \(batch) ORDER BY id", logger: logger) {
                rows.append(try PostgresConfigStore.historyEntry(row.makeRandomAccess()))
            }
        }
        var batches = SQLiteChangeCursor.group(rows)
        // A read that stopped inside a batch leaves that batch for the next one.
        if rows.count >= Self.rowsPerRead, batches.count > 1 { batches.removeLast() }
        return batches
    }

    /// Until a notification arrives or `catchUpInterval` passes, whichever is first.
    private func waitForCommit() async {
        await wake.wait(timeout: catchUpInterval)
    }

    /// The feed's own connection, LISTENing before anything is read on it (the LISTEN goes out
    /// first on the same connection), so a commit after the read is never missed.
    private func connect() async throws -> PostgresConnection {
        if let connection = state.withLock({ $0.connection }), !connection.isClosed { return connection }
        let connection = try await connections.open()
        connection.addListener(channel: PostgresConfigStore.channel) { [wake] _, _ in wake.signal() }
        state.withLock { $0.connection = connection }
        return connection
    }
}
