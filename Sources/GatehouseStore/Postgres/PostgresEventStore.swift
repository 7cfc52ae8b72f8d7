import Foundation
import GatehouseCore
import Logging
import PostgresNIO
import Synchronization

/// `EventStore` in the PostgreSQL database several nodes share (the `PostgresConfigStore`'s, on
/// its connections): any node accepts, any node delivers, and a dead node's deliveries are
/// delivered by the others.
///
/// **Leases.** `lease` and `leaseCalls` pick due rows with `SELECT … FOR UPDATE SKIP LOCKED`:
/// two nodes leasing at once never get the same row (the second skips what the first is
/// taking), and neither waits for the other. A leased row's `owner` is the node's name and its
/// `due` the lease's expiry: when a node dies (even `kill -9`) its deliveries are due again at
/// that time and any node leases them. `settle` and `complete` change a row only while `owner`
/// still holds it, so a node that was presumed dead and comes back cannot undo a takeover.
///
/// **Durability.** `accept`, `fire`, `acceptCall` and `complete` return after PostgreSQL has
/// committed (with the server's `synchronous_commit`, by default on: flushed to its WAL).
///
/// **Bounds across nodes.** The pending totals are one row (`gatehouse_event_totals`), locked by
/// every accept before it checks them: accepts of all nodes are serialized on it, so the
/// bounds hold for the mesh as a whole, not per node. Settles and drops add their deltas to it in
/// their own transactions, after their row locks (the one lock order — delivery, event, totals —
/// everywhere, so they cannot deadlock with accepts).
///
/// **Group commit.** Concurrent accepts, ticks and calls of this node share one transaction (each
/// in its own savepoint, so one refused or failing write leaves the others in), as on SQLite: one
/// lock of the totals row and one commit for the batch. Settles are batched the same way. The
/// totals row is held until commit, so the mesh's accepting batches commit one at a time (one
/// WAL flush each): the exact shared bound costs that, and per-node batching is what keeps the
/// mesh's accept rate up under load.
///
/// **Unreadable rows.** A row whose blob cannot be decoded never traps: leases take it out of
/// the queue (a `dropped` outcome), reads skip it, and `report` is told either way.
///
/// **Threading.** Every call is async, on a connection of the config store's pool (one caller's
/// transaction at a time per connection).
public final class PostgresEventStore: EventStore {
    public let bounds: EventStoreBounds
    let store: PostgresConfigStore
    /// Told (after the transaction) about rows removed or skipped because they could not be read.
    let report: @Sendable (String) -> Void
    let durableWrites = GroupCommit<DurableWrite, DurableWriteOutcome>()
    let settles = GroupCommit<SettleWrite, Void>()
    /// Transactions that stored accepted events, ticks or calls (for tests).
    let durableCommits = Atomic<Int>(0)

    /// A call's result body is kept up to this many bytes, as on SQLite.
    public static var maxResultBytes: Int { SQLiteEventStore.maxResultBytes }
    /// Kept per schedule, as on SQLite; a tick older than all of them counts as fired.
    static var firedMinutesKept: Int { SQLiteEventStore.firedMinutesKept }

    /// On `store`'s database and connections; its schema (step 6) was brought up to date when
    /// `store` connected.
    public init(store: PostgresConfigStore, bounds: EventStoreBounds = EventStoreBounds(), report: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = store
        self.bounds = bounds
        self.report = report
    }

    var location: String { store.location.description }

    /// Transactions that stored accepted work since this store was made (fewer than the calls when batching works).
    var durableCommitCount: Int { durableCommits.load(ordering: .relaxed) }

    /// The pending totals as stored now (for gauges and tests).
    func pendingTotals() async throws(StoreError) -> PendingTotals {
        try await store.using { connection, logger in try await Self.totals(connection, logger: logger) }
    }

    // MARK: Access

    /// Held by one settle batch (or drop) of the whole mesh at a time ("gatesetl").
    static let settleLock: Int64 = 0x6761_7465_7365_746C

    /// Nodes share this queue: a node drops only the triggers it saw go.
    public var sharedAcrossNodes: Bool { true }

    /// `body` in one `READ COMMITTED` transaction, completed even if the caller is cancelled.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) async throws(StoreError) -> T {
        try await store.transaction("BEGIN ISOLATION LEVEL READ COMMITTED", body)
    }

    /// `body` outside a transaction (each statement its own snapshot).
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) async throws(StoreError) -> T {
        try await store.using(body)
    }

    func storeError(_ error: any Error) -> StoreError { PostgresConfigStore.storeError(error, location: store.location) }

    func report(_ problems: [String]) {
        for problem in problems { report("\(location): \(problem)") }
    }

    // MARK: Totals

    static func totals(_ connection: PostgresConnection, locking: Bool = false, logger: Logger) async throws -> PendingTotals {
        let sql = "SELECT pending, bytes FROM gatehouse_event_totals WHERE id = 1" + (locking ? " FOR UPDATE" : "")
        for try await (pending, bytes) in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode((Int, Int).self) {
            return PendingTotals(pending: max(0, pending), bytes: max(0, bytes))
        }
        return PendingTotals(pending: 0, bytes: 0)
    }

    /// Adds to the stored totals (negative to take away); locks the row until commit.
    static func addTotals(pending: Int, bytes: Int, _ connection: PostgresConnection, logger: Logger) async throws {
        guard pending != 0 || bytes != 0 else { return }
        try await connection.query(
            """
            UPDATE gatehouse_event_totals SET pending = greatest(0, pending + \(pending)), bytes = greatest(0, bytes + \(bytes))
            WHERE id = 1
            """, logger: logger)
    }
}

/// Runs a statement and counts the rows it returned (`RETURNING`): postgres-nio has no row count.
extension PostgresConnection {
    func count(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        var count = 0
        for try await _ in try await self.query(query, logger: logger) { count += 1 }
        return count
    }
}
