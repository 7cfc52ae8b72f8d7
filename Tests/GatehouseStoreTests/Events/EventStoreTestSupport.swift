import Foundation
import GatehouseCore
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

extension SQLiteEventStore {
    /// Leases everything due for `triggers` (a generous slot count each).
    func leaseAll(_ triggers: [TriggerRef] = [ordersTrigger], owner: String = "node-a", now: Date = t0, leaseFor: Duration = .seconds(30)) async throws
        -> [LeasedDelivery]
    {
        try await lease(owner: owner, now: now, leaseFor: leaseFor, slots: Dictionary(uniqueKeysWithValues: triggers.map { ($0, 1_000_000) }))
    }
}
