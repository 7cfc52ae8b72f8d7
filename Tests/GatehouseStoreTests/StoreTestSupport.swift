import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTesting
import Synchronization

/// A fresh folder for one test's databases (the test removes it).
func temporaryStoreFolder() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-store-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// A document as a test applies it: `default/NAME` of `kind`, from `/cfg/NAME.yaml`.
func storedDocument(_ name: String, _ text: String, kind: String = "Function", lineOffset: Int = 0) -> ResourceDocument {
    ResourceDocument(
        key: ResourceKey(group: "gatehouse.dev", kind: kind, namespace: "default", name: name),
        apiVersion: "gatehouse.dev/v1", text: text, file: "/cfg/\(name).yaml", lineOffset: lineOffset)
}

/// The `ConfigStore`s the contract tests run against: each behaviour of the seam, once per store.
enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres
    var description: String { rawValue }
}

/// One test's store — a fresh SQLite file, or a fresh database on the test process's PostgreSQL —
/// and more instances on it, as other processes or nodes would open them.
final class StoreFixture: Sendable {
    let backend: StoreBackend
    private let opened = Mutex<[PostgresConfigStore]>([])
    private let directory: URL?
    private let database: String?

    private init(_ backend: StoreBackend, directory: URL?, database: String?) {
        self.backend = backend
        self.directory = directory
        self.database = database
    }

    /// Runs `body` with a fresh store of `backend`, and removes the store afterwards.
    static func with(_ backend: StoreBackend, _ body: (StoreFixture) async throws -> Void) async throws {
        let fixture = switch backend {
        case .sqlite: StoreFixture(backend, directory: try temporaryStoreFolder(), database: nil)
        case .postgres: StoreFixture(backend, directory: nil, database: try await PostgresServer.sharedOffPool().makeDatabaseOffPool())
        }
        do {
            try await body(fixture)
        } catch {
            await fixture.remove()
            throw error
        }
        await fixture.remove()
    }

    /// Another instance on the same store (its own connections). `feedInterval` is SQLite's
    /// polling interval; PostgreSQL's feed is woken by notifications and catches up every second.
    func open(feedInterval: Duration = .milliseconds(20)) async throws -> any ConfigStore {
        switch backend {
        case .sqlite:
            return try SQLiteStore(path: sqlitePath, busyTimeout: 10, feedInterval: feedInterval)
        case .postgres:
            let store = try await PostgresConfigStore(location: try location())
            opened.withLock { $0.append(store) }
            return store
        }
    }

    /// `count` instances, each with its own connection.
    func openSeveral(_ count: Int) async throws -> [any ConfigStore] {
        var stores: [any ConfigStore] = []
        for _ in 0..<count { stores.append(try await open()) }
        return stores
    }

    /// The SQLite event store's file, beside `sqlitePath`.
    var eventsPath: String { URL(fileURLWithPath: sqlitePath).deletingLastPathComponent().appendingPathComponent("events.db").path }

    /// Another audit log on the store's database (`STATE_DIR/audit.db` beside the SQLite file),
    /// with its own connections, as another process or node opens it.
    func openAuditLog() async throws -> any AuditLog {
        switch backend {
        case .sqlite:
            return try SQLiteAuditLog(path: (directory ?? URL(fileURLWithPath: "/nonexistent")).appendingPathComponent("audit.db").path)
        case .postgres:
            guard let store = try await open() as? PostgresConfigStore else { throw StoreError(.failed, path: "-", detail: "not PostgreSQL") }
            return PostgresAuditLog(store: store)
        }
    }

    /// `statement` run by the database's owner (an attacker with write access to the tables).
    func sql(_ statement: String) throws {
        _ = try sqlOutput(statement)
    }

    /// What `statement` printed (rows as `a|b`, one a line).
    func sqlOutput(_ statement: String) throws -> String {
        guard let database else { return "" }
        return try PostgresServer.shared().sql(statement, database: database)
    }

    var sqlitePath: String { (directory ?? URL(fileURLWithPath: "/nonexistent")).appendingPathComponent("gatehouse.db").path }

    func location() throws -> PostgresStoreLocation {
        let server = try PostgresServer.shared()
        return try PostgresStoreLocation(url: server.url(database: database ?? "postgres"), password: server.password)
    }

    private func remove() async {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        for store in opened.withLock({ $0 }) { await store.close() }
        if let database, let server = try? PostgresServer.shared() { server.dropLater(database) }
    }
}

/// Waits for `body` to give a value, up to `deadline` from now; nil when it did not in time.
func within<T: Sendable>(_ deadline: Duration, _ body: @escaping @Sendable () async throws -> T?) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: deadline)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
