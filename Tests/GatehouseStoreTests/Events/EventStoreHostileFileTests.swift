import Foundation
import GatehouseCore
import GRDB
import Testing

@testable import GatehouseStore

/// The state directory is in the threat model: a file that is not ours, or rows someone edited,
/// must give a clear error or be skipped — never crash Gatehouse.
@Suite("Event store: a hostile state directory", .timeLimit(.minutes(1)))
struct EventStoreHostileFileTests {
    let folder: EventStoreFolder
    init() throws { folder = try EventStoreFolder() }

    func openingFails(_ reason: StoreError.Reason) -> StoreError? {
        do {
            _ = try folder.open()
            Issue.record("opened")
            return nil
        } catch let error as StoreError {
            #expect(error.reason == reason, "\(error)")
            return error
        } catch {
            Issue.record("not a StoreError: \(error)")
            return nil
        }
    }

    /// Edits the file behind the store's back, as someone with access to the directory could.
    func tamper(_ sql: String) throws {
        let queue = try DatabaseQueue(path: folder.path)
        try queue.write { try $0.execute(sql: sql) }
    }

    @Test("A file of garbage is refused with a clear error")
    func garbage() throws {
        defer { folder.remove() }
        var bytes = [UInt8](repeating: 0, count: 8192)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: folder.path))
        let error = openingFails(.corrupt)
        #expect(error?.description.contains("is not a readable Gatehouse database") == true)
    }

    @Test("Another program's SQLite file is refused, and left as it was")
    func foreignDatabase() throws {
        defer { folder.remove() }
        try tamper("CREATE TABLE note (text TEXT); INSERT INTO note VALUES ('mine')")
        let error = openingFails(.corrupt)
        #expect(error?.detail.contains("not a Gatehouse events database") == true)
        let tables = try DatabaseQueue(path: folder.path).read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") }
        #expect(tables == ["note"])
    }

    @Test("A symlink in place of events.db is refused")
    func symlink() throws {
        defer { folder.remove() }
        let target = folder.directory.appendingPathComponent("elsewhere.db").path
        _ = FileManager.default.createFile(atPath: target, contents: nil)
        try FileManager.default.createSymbolicLink(atPath: folder.path, withDestinationPath: target)
        _ = openingFails(.failed)
        #expect(try FileManager.default.attributesOfItem(atPath: target)[.size] as? Int == 0, "nothing was written through the link")
    }

    @Test("The file is created owner-only, in WAL mode, with commits fsynced")
    func ownerOnly() async throws {
        defer { folder.remove() }
        let store = try folder.open()
        let mode = try FileManager.default.attributesOfItem(atPath: folder.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let settings = try await store.database.writeWithoutTransaction { db in
            try ["journal_mode", "synchronous", "auto_vacuum"].map { try String.fetchOne(db, sql: "PRAGMA \($0)") ?? "" }
        }
        #expect(settings == ["wal", "2", "2"], "WAL, synchronous FULL, incremental auto-vacuum")
    }

    @Test("An undecodable event is taken out of the queue and reported; the others are delivered")
    func undecodableEvent() async throws {
        defer { folder.remove() }
        let problems = ProblemLog()
        let store = try folder.open(problems: problems)
        _ = try await store.accept([newEvent("e1"), newEvent("e2"), newEvent("e3")], now: t0)
        try tamper("UPDATE event SET body = x'01ff' WHERE eventId = 'e1'; UPDATE event SET body = x'07' WHERE eventId = 'e3'")
        let leased = try await store.leaseAll()
        #expect(leased.map(\.event.id) == ["e2"])
        #expect(problems.all.count == 2)
        #expect(problems.all.allSatisfy { $0.contains("could not be read") && $0.contains(folder.path) })
        try await store.settle(leased[0].id, owner: "node-a", outcome: .delivered(status: 200), now: t0)
        #expect(try await store.leaseAll(now: t0.addingTimeInterval(3600)).isEmpty, "the bad rows do not come back")
        let history = try await store.deliveryHistory(of: ordersTrigger, limit: 10)
        #expect(history.recent.map(\.result) == ["delivered", "dropped", "dropped"] && history.recent.map(\.eventID) == ["e2", "e3", "e1"])
        #expect(store.pendingTotals == PendingTotals(pending: 0, bytes: 0))
    }

    @Test("Unreadable dead letters, outcomes, backlog rows and results are left out and reported")
    func unreadableReads() async throws {
        defer { folder.remove() }
        let problems = ProblemLog()
        let store = try folder.open(problems: problems)
        _ = try await store.accept([newEvent("e1"), newEvent("e2")], now: t0)
        for delivery in try await store.leaseAll() {
            try await store.settle(delivery.id, owner: "node-a", outcome: .deadLetter(event: delivery.event, status: 500, reason: "x", toSink: false), now: t0)
        }
        _ = try await store.acceptCall(
            AsyncCall(id: "c1", method: "GET", host: "h", path: "/", headers: [], body: [], callback: nil, sourcePrincipal: nil, acceptedAt: t0), now: t0)
        _ = try await store.leaseCalls(owner: "a", now: t0, leaseFor: .seconds(5), limit: 1)
        try await store.complete(call: "c1", owner: "a", result: AsyncCallResult(status: 200, headers: [], body: [], completedAt: t0), keepUntil: t0.addingTimeInterval(60))
        _ = try await store.accept([newEvent("e3")], now: t0)
        try tamper("""
            UPDATE dead_letter SET body = x'0102030405' WHERE eventId = 'e1';
            UPDATE async_call SET result = x'01';
            UPDATE delivery SET trigger = 'no-slash';
            """)
        #expect(try await store.deadLetters(broker: nil, limit: 10).map(\.event.id) == ["e2"])
        #expect(try await store.call("c1", now: t0) == nil)
        #expect(try await store.backlog().isEmpty)
        #expect(problems.all.count == 3, "\(problems.all)")
    }

    @Test("Totals edited by hand are recounted at open")
    func totalsRecounted() async throws {
        defer { folder.remove() }
        _ = try await folder.open().accept([newEvent("e1")], now: t0)
        try tamper("UPDATE event_totals SET pending = 99999999, bytes = -5")
        let store = try folder.open()
        #expect(store.pendingTotals == PendingTotals(pending: 1, bytes: EventRowCoding.encode(orderEvent("e1")).count))
    }
}
