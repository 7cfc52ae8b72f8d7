import Foundation
import GatehouseCore
import GRDB

/// Login sessions in their own SQLite file (`STATE_DIR/login/sessions.db`, 0600): one row per
/// session, keyed by the SHA-256 of its ticket id, with its claims as JSON. Expired rows are
/// removed when loaded. Calls block on disk I/O: call them off the event loops.
public final class SQLiteLoginSessions: LoginSessionStore {
    public let path: String
    private let database: DatabaseQueue

    public init(path: String) throws(StoreError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(2)
        configuration.label = "gatehouse.sessions"
        do {
            try PrivateFile.create(path)
            database = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
        } catch {
            throw SQLiteStore.storeError(error, path: path)
        }
    }

    public func load(now: Int64) throws -> [LoginSession] {
        try database.write { db in
            try db.execute(sql: "DELETE FROM session WHERE expires <= ?", arguments: [now])
            return try Row.fetchAll(db, sql: "SELECT * FROM session").compactMap { row -> LoginSession? in
                let claimsText: String = row["claims"]
                guard let claims = try? JSONDecoder().decode([String: ClaimValue].self, from: Data(claimsText.utf8)) else { return nil }
                var identity = VerifiedJWT(claims: claims)
                identity.issuer = row["issuer"]
                identity.subject = row["subject"]
                return LoginSession(
                    key: row["key"], provider: row["provider"], host: row["host"], identity: identity, expires: row["expires"],
                    renewAfter: row["renewAfter"], refreshToken: row["refreshToken"])
            }
        }
    }

    public func save(_ session: LoginSession) throws {
        let claims = String(decoding: try JSONEncoder().encode(session.identity.claims), as: UTF8.self)
        try database.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO session (key, provider, host, issuer, subject, claims, expires, renewAfter, refreshToken)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    session.key, session.provider, session.host, session.identity.issuer, session.identity.subject, claims,
                    session.expires, session.renewAfter, session.refreshToken,
                ])
        }
    }

    public func delete(key: String) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM session WHERE key = ?", arguments: [key]) }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE session (
                  key TEXT PRIMARY KEY, provider TEXT NOT NULL, host TEXT NOT NULL, issuer TEXT NOT NULL, subject TEXT NOT NULL,
                  claims TEXT NOT NULL, expires INTEGER NOT NULL, renewAfter INTEGER NOT NULL, refreshToken TEXT);
                """)
        }
        return migrator
    }
}
