import Foundation
import GatehouseCore
import PostgresNIO
import Synchronization

@testable import GatehouseStore

/// A fixed clock: every test passes its own `now`.
let t0 = Date(timeIntervalSince1970: 1_800_000_000)

let defaultBroker = BrokerRef(namespace: "default", name: "default")
let ordersTrigger = TriggerRef(namespace: "default", name: "orders")
let auditTrigger = TriggerRef(namespace: "default", name: "audit")

/// A folder with an `events.db` path for one test (the test removes it).
struct EventStoreFolder {
    let directory: URL
    init() throws { directory = try temporaryStoreFolder() }
    var path: String { directory.appendingPathComponent("events.db").path }

    func open(bounds: EventStoreBounds = EventStoreBounds(), groupCommit: Bool = true, problems: ProblemLog? = nil) throws -> SQLiteEventStore {
        try SQLiteEventStore(path: path, bounds: bounds, groupCommit: groupCommit, report: { problems?.add($0) })
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// Collects what a store reports about unreadable rows.
final class ProblemLog: Sendable {
    private let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

func orderEvent(_ id: String, type: String = "com.example.order.created", data: [UInt8]? = Array(#"{"n":1}"#.utf8)) -> CloudEvent {
    CloudEvent(id: id, source: "/orders", type: type, dataContentType: "application/json", data: data)
}

func newEvent(_ id: String, triggers: [TriggerRef] = [ordersTrigger], data: [UInt8]? = Array(#"{"n":1}"#.utf8)) -> NewEvent {
    NewEvent(broker: defaultBroker, event: orderEvent(id, data: data), triggers: triggers)
}

extension EventStore {
    /// Leases everything due for `triggers` (a generous slot count each).
    func leaseAll(_ triggers: [TriggerRef] = [ordersTrigger], owner: String = "node-a", now: Date = t0, leaseFor: Duration = .seconds(30)) async throws
        -> [LeasedDelivery]
    {
        try await lease(owner: owner, now: now, leaseFor: leaseFor, slots: Dictionary(uniqueKeysWithValues: triggers.map { ($0, 1_000_000) }))
    }
}

/// What the contract tests read of either event store besides the seam: its pending totals,
/// how many transactions stored accepted work, and a table's rows.
protocol TestedEventStore: EventStore {
    func totals() async throws -> PendingTotals
    var durableCommitCount: Int { get }
    /// Rows of one of the store's tables, by its SQLite name (`async_call`; `gatehouse_async_call` on PostgreSQL).
    func rowCount(_ table: String) async throws -> Int
}

extension SQLiteEventStore: TestedEventStore {
    func totals() -> PendingTotals { pendingTotals }
    func rowCount(_ table: String) async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? -1 }
    }
}

extension PostgresEventStore: TestedEventStore {
    func totals() async throws -> PendingTotals { try await pendingTotals() }
    func rowCount(_ table: String) async throws -> Int {
        try await read { connection, logger in
            for try await count in try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM gatehouse_\(table)"), logger: logger).decode(Int.self) {
                return count
            }
            return -1
        }
    }
}

extension StoreFixture {
    /// An event store on this fixture's store: `events.db` in its folder, or its PostgreSQL
    /// database on a config store of its own (its own connections: another node). `groupCommit`
    /// is SQLite's switch; PostgreSQL's store always batches.
    func events(bounds: EventStoreBounds = EventStoreBounds(), groupCommit: Bool = true, problems: ProblemLog? = nil) async throws -> any TestedEventStore {
        switch backend {
        case .sqlite:
            return try SQLiteEventStore(path: eventsPath, bounds: bounds, groupCommit: groupCommit, report: { problems?.add($0) })
        case .postgres:
            guard let store = try await open() as? PostgresConfigStore else { throw StoreError(.failed, path: "", detail: "not PostgreSQL") }
            return PostgresEventStore(store: store, bounds: bounds, report: { problems?.add($0) })
        }
    }
}
