import Foundation

/// Runs blocking work (a child process waited for, a server started) on a Dispatch thread, not on
/// one of the few threads Swift concurrency shares among every suite of the test process: blocking
/// one of those for seconds makes unrelated tests late (a second request sent after the first ended).
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

extension PostgresServer {
    /// `shared()`, started off the cooperative pool.
    public static func sharedOffPool() async throws -> PostgresServer { try await offPool { try shared() } }
    /// `start()`, off the cooperative pool.
    public static func startOffPool(tlsName: String? = nil) async throws -> PostgresServer { try await offPool { try start(tlsName: tlsName) } }
    /// `makeDatabase()`, off the cooperative pool.
    public func makeDatabaseOffPool() async throws -> String { try await offPool { try self.makeDatabase() } }
    /// `sql(_:database:)`, off the cooperative pool.
    public func sqlOffPool(_ statement: String, database: String = "postgres") async throws -> String {
        try await offPool { try self.sql(statement, database: database) }
    }
    /// Drops `database` in the background (cleanup nobody waits for).
    public func dropLater(_ database: String) {
        DispatchQueue.global().async { _ = try? self.sql("DROP DATABASE IF EXISTS \(database) WITH (FORCE)") }
    }
}
