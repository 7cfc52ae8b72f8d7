import Foundation
import GRDB
import Synchronization

/// One change feed of `SQLiteStore`: the batches committed after a revision, by this process or
/// any other, one per `next()`.
///
/// It keeps its own read-only connection, because `PRAGMA data_version` is per connection: it
/// moves when another connection (this process's writer included) commits. While it has not
/// moved, a check costs no file I/O and no query; when it has, the new history rows are read by
/// batch number, so nothing is missed and nothing is read twice.
///
/// `next()` is called by the one task iterating the feed; it suspends (a sleep of `interval`
/// between checks) until a batch is there, and throws `CancellationError` when that task is
/// cancelled. It spawns no task of its own.
final class SQLiteChangeCursor: Sendable {
    private struct State {
        var connection: DatabaseQueue?
        var last: Int64
        var dataVersion: Int64?
        var pending: [StoreBatch] = []
    }

    /// History rows read per query: a feed that fell far behind catches up in steps.
    static let rowsPerRead = 5_000

    let path: String
    let interval: Duration
    let busyTimeout: TimeInterval
    private let state: Mutex<State>

    init(path: String, after revision: Int64, interval: Duration, busyTimeout: TimeInterval) {
        self.path = path
        self.interval = interval
        self.busyTimeout = busyTimeout
        state = Mutex(State(last: revision))
    }

    func next() async throws -> StoreBatch? {
        while true {
            if let batch = state.withLock({ $0.pending.isEmpty ? nil : $0.pending.removeFirst() }) { return batch }
            let connection = try connect()
            let (last, seen) = state.withLock { ($0.last, $0.dataVersion) }
            let version = try await connection.writeWithoutTransaction { db in
                try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0
            }
            if version != seen {
                let rows = try await connection.read { db in
                    var rows = try Row.fetchAll(
                        db, sql: "SELECT * FROM change WHERE batch > ? ORDER BY id LIMIT ?", arguments: [last, Self.rowsPerRead]
                    ).map(SQLiteStore.historyEntry)
                    // One batch filled the page: it is read whole (a batch is one commit, never skipped in part).
                    if rows.count == Self.rowsPerRead, let batch = rows.first?.batch, rows.last?.batch == batch {
                        rows = try Row.fetchAll(db, sql: "SELECT * FROM change WHERE batch = ? ORDER BY id", arguments: [batch])
                            .map(SQLiteStore.historyEntry)
                    }
                    return rows
                }
                var batches = Self.group(rows)
                // A read that stopped inside a batch leaves that batch for the next one.
                if rows.count >= Self.rowsPerRead, batches.count > 1 { batches.removeLast() }
                state.withLock { state in
                    state.pending += batches
                    if let newest = batches.last?.revision { state.last = newest }
                    // Read everything there was: wait for the next commit. Otherwise read on.
                    state.dataVersion = rows.count < Self.rowsPerRead ? version : nil  // (a whole big batch: read on)
                }
                if !batches.isEmpty { continue }
            }
            try await Task.sleep(for: interval)
        }
    }

    private func connect() throws -> DatabaseQueue {
        if let connection = state.withLock({ $0.connection }) { return connection }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "gatehouse.store.feed"
        let connection = try DatabaseQueue(path: path, configuration: configuration)
        state.withLock { $0.connection = connection }
        return connection
    }

    /// History rows (in id order) as one batch per store revision.
    static func group(_ rows: [HistoryEntry]) -> [StoreBatch] {
        var batches: [StoreBatch] = []
        for row in rows {
            if batches.last?.revision == row.batch {
                batches[batches.count - 1].entries.append(row)
            } else {
                batches.append(StoreBatch(revision: row.batch, entries: [row]))
            }
        }
        return batches
    }
}
