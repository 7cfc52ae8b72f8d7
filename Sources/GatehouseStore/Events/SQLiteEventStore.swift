import Foundation
import GatehouseCore
import GRDB
import Synchronization

/// `EventStore` in its own SQLite file, `STATE_DIR/events.db` (owner-only), through GRDB: the
/// broker's queue never holds the lock a config apply or an audit record needs.
///
/// **Durability.** WAL journal. `accept`, `fire`, `acceptCall` and `complete` commit with
/// `synchronous = FULL`: the WAL is fsynced before they return, so a 202 survives `kill -9` and
/// power loss. Leases, settles, releases and pruning commit with `synchronous = NORMAL` (no fsync
/// of their own; the next FULL commit or checkpoint syncs them): a crash can lose only the most
/// recent of them, and losing a lease or a settle only makes a delivery due again — at least
/// once still holds. A process crash (`kill -9`) loses nothing either way; the WAL is in the
/// page cache.
///
/// **Group commit.** Concurrent `accept`/`fire`/`acceptCall` calls share transactions
/// (`GroupCommit`): one fsync per batch, each caller resumed when its batch is durable. With
/// `groupCommit: false` each call is its own transaction (for measuring what batching buys).
/// Settles are batched the same way (without the fsync).
/// Within a batch each call is its own savepoint: a call refused (`.full`) or failing leaves
/// the others' writes in.
///
/// **Threading.** Every call is async and never blocks the caller's thread on disk I/O: writes run
/// on GRDB's writer queue (one at a time, in `BEGIN IMMEDIATE` transactions), reads on its reader
/// pool beside them (WAL: readers never wait for the writer). Encoding happens on the caller's
/// thread, before the writer queue. A write, once started, completes even if its caller is
/// cancelled. `init` opens and checks the file synchronously: call it at start.
///
/// **Several processes.** Two stores (two processes) may share the file: each write takes the
/// write lock first (`BEGIN IMMEDIATE`, waiting up to `busyTimeout`), then reads what it checks —
/// the pending totals, a schedule's fired minutes, a delivery's owner — in the same transaction.
///
/// **A hostile state directory.** The file is opened `O_NOFOLLOW` (a symlink is refused); a file
/// that is not SQLite, or holds tables that are not ours, is refused at open with a
/// `StoreError`. A row that cannot be decoded never traps: reads skip it, leases move it out of
/// the queue (recorded as a `dropped` outcome), and either way `report` is told.
public final class SQLiteEventStore: EventStore {
    public let path: String
    public let bounds: EventStoreBounds
    let database: DatabasePool
    /// Told (after the transaction) about rows skipped or removed because they could not be read.
    let report: @Sendable (String) -> Void
    /// The totals as of this process's last transaction: a cheap first check before an accept
    /// queues for a commit (confirmed from the file before refusing), and a gauge.
    let knownTotals: Mutex<PendingTotals>
    let durableWrites: GroupCommit<DurableWrite, DurableWriteOutcome>?
    let settles: GroupCommit<SettleWrite, Void>?
    /// Transactions that stored accepted events, schedule ticks or calls (for tests and benchmarks).
    let durableCommits = Atomic<Int>(0)

    /// Kept per schedule; a tick older than all of them counts as fired.
    static let firedMinutesKept = 64
    /// A call's result body is kept up to this many bytes (1 MiB); a longer one is cut there and
    /// the result gets a `gatehouse-result-truncated` header with the original length.
    public static let maxResultBytes = 1 << 20

    /// Opens (creating when absent, mode 0600) the store at `path`, brings its schema up to date
    /// and counts its pending work.
    public init(
        path: String, bounds: EventStoreBounds = EventStoreBounds(), groupCommit: Bool = true, busyTimeout: TimeInterval = 5,
        report: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(StoreError) {
        self.path = path
        self.bounds = bounds
        self.report = report
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "gatehouse.events"
        let database: DatabasePool
        let totals: PendingTotals
        do {
            try PrivateFile.create(path)
            database = try DatabasePool(path: path, configuration: configuration)
            try database.writeWithoutTransaction { db in
                // Not in `prepareDatabase`: GRDB sets NORMAL after it when it turns WAL on.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                let isNew = try Self.checkOwnership(db, path: path)
                // Incremental auto-vacuum (`prune` gives pages back after a burst) can only be set
                // on a file without tables, and GRDB already wrote one page turning WAL on:
                // VACUUM makes it take, instantly while the file is empty.
                if isNew, try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") != 2 {
                    try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                    try db.execute(sql: "VACUUM")
                }
            }
            try Self.migrator.migrate(database)
            totals = try database.write { db in try PendingTotals.recount(db) }
        } catch let error as StoreError {
            throw error
        } catch {
            throw SQLiteStore.storeError(error, path: path)
        }
        self.database = database
        self.knownTotals = Mutex(totals)
        durableWrites = groupCommit ? GroupCommit() : nil
        settles = groupCommit ? GroupCommit() : nil
    }

    /// Pending deliveries and calls and their bytes, as of this process's last transaction.
    public var pendingTotals: PendingTotals { knownTotals.withLock { $0 } }

    /// Transactions that stored accepted work since open (fewer than the calls when batching works).
    var durableCommitCount: Int { durableCommits.load(ordering: .relaxed) }

    // MARK: Access

    /// `body` in one `BEGIN IMMEDIATE` transaction on GRDB's writer queue, not the caller's thread.
    /// `durable`: fsynced before this returns (`synchronous = FULL`); otherwise `NORMAL` (see the
    /// type's comment). The totals are re-read before commit and published after it.
    func write<T: Sendable>(durable: Bool, _ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        let path = path
        let outcome: Result<T, StoreError> = await withCheckedContinuation { continuation in
            // Not GRDB's async `write`: that one interrupts the transaction when the calling task is
            // cancelled, and a group commit must not fail a whole batch for one caller.
            database.asyncWriteWithoutTransaction { db in
                do {
                    if !durable { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
                    defer { if !durable { try? db.execute(sql: "PRAGMA synchronous = FULL") } }
                    var value: T?
                    var totals: PendingTotals?
                    try db.inTransaction(.immediate) {
                        value = try body(db)
                        totals = try PendingTotals.read(db)
                        return .commit
                    }
                    if let totals { self.knownTotals.withLock { $0 = totals } }
                    guard let value else { throw StoreError(.failed, path: path, detail: "a write returned nothing") }
                    continuation.resume(returning: .success(value))
                } catch let error as StoreError {
                    continuation.resume(returning: .failure(error))
                } catch {
                    continuation.resume(returning: .failure(SQLiteStore.storeError(error, path: path)))
                }
            }
        }
        return try outcome.get()
    }

    /// `body` in a read transaction on GRDB's reader pool (a snapshot; never waits for the writer).
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await database.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw SQLiteStore.storeError(error, path: path)
        }
    }

    func report(_ problems: [String]) {
        for problem in problems { report("\(path): \(problem)") }
    }
}
