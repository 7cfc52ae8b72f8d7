import Foundation
import Logging
import GatehouseCore
import GatehouseTesting
import Testing

@testable import GatehouseStore

/// What only the PostgreSQL store has: its URL and password, migrations shared by several nodes,
/// and the catch-up that covers a lost notification.
extension ConfigStoreSuites {
@Suite("The PostgreSQL config store", .timeLimit(.minutes(3)))
struct PostgresStoreTests {
    @Test("A URL with a password is refused, and the message does not repeat the password")
    func passwordNotInURL() {
        do {
            _ = try PostgresStoreLocation(url: "postgres://alice:s3cret@db.example:5433/config", password: nil)
            Issue.record("expected the URL to be refused")
        } catch {
            #expect(!error.description.contains("s3cret"), "\(error)")
            #expect(error.description.contains("postgres://alice:***@db.example:5433/config"), "\(error)")
            #expect(error.description.contains("--store-password-file"))
        }
        #expect(PostgresStoreLocation.redacted("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db", "a password may hold an @")
    }

    @Test("A location is named by its URL without the password; the port and database have defaults")
    func location() throws {
        let location = try PostgresStoreLocation(url: "postgresql://gatehouse@10.0.0.5", password: "s3cret")
        #expect(location.description == "postgres://gatehouse@10.0.0.5:5432/gatehouse")
        var dumped = ""
        dump(location, to: &dumped)
        #expect(!String(reflecting: location).contains("s3cret") && !dumped.contains("s3cret"), "\(dumped)")
        #expect(PostgresStoreLocation.isURL("postgres://x@y/z") && !PostgresStoreLocation.isURL("/var/lib/gatehouse.db"))
    }

    @Test("sslmode and sslrootcert read as libpq reads them; other parameters, unknown modes and verify-full of an address are refused with the reason")
    func tlsParameters() throws {
        #expect(try PostgresStoreLocation(url: "postgres://g@db.example/c", password: nil).tls == .prefer, "libpq's default")
        let full = try PostgresStoreLocation(url: "postgres://g@db.example/c?sslmode=verify-full&sslrootcert=/etc/pg/root.pem", password: nil)
        #expect(full.tls == .verifyFull && full.rootCertificates == "/etc/pg/root.pem")
        #expect(full.description == "postgres://g@db.example:5432/c?sslmode=verify-full")
        #expect(try PostgresStoreLocation(url: "postgres://g@db.example/c?sslmode=require&sslrootcert=/r.pem", password: nil).tls == .verifyCA,
                "libpq: require with a root file verifies the chain")
        #expect(try PostgresStoreLocation(url: "postgres://g@10.0.0.5/c?sslmode=verify-ca", password: nil).tls == .verifyCA)
        for (url, said) in [
            ("postgres://g@db.example/c?sslmode=always", "sslmode=always is not one of disable, prefer, require, verify-ca, verify-full"),
            ("postgres://g@db.example/c?connect_timeout=5", "connect_timeout is not supported"),
            ("postgres://g@10.0.0.5/c?sslmode=verify-full", "use sslmode=verify-ca"),
        ] {
            do {
                _ = try PostgresStoreLocation(url: url, password: nil)
                Issue.record("expected \(url) to be refused")
            } catch {
                #expect(error.description.contains(said), "\(error)")
            }
        }
    }

    @Test("A wrong password is refused by the server; the error names the URL and never the password")
    func wrongPassword() async throws {
        let server = try await PostgresServer.sharedOffPool()
        let location = try PostgresStoreLocation(url: server.url(database: "postgres"), password: "not-\(server.password)")
        do {
            _ = try await PostgresConfigStore(location: location)
            Issue.record("expected the password to be refused")
        } catch {
            #expect(error.description.contains(server.url(database: "postgres")), "\(error)")
            #expect(!error.description.contains(server.password), "\(error)")
            #expect(error.description.contains("password authentication failed"), "\(error)")
        }
    }

    @Test("A burst of work uses at most the pool's connections; the rest wait their turn, and every call completes")
    func boundedConnections() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let store = try #require(try await fixture.open() as? PostgresConfigStore)
            let busiest = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<(PostgresConnections.maxInUse * 2) {
                    group.addTask {
                        try await store.using { connection, logger in
                            // Each holds its connection a while and counts the database's sessions meanwhile.
                            try await connection.query("SELECT pg_sleep(0.2)", logger: logger)
                            var sessions = 0
                            for try await count in try await connection.query(
                                "SELECT count(*)::BIGINT FROM pg_stat_activity WHERE datname = current_database()", logger: logger
                            ).decode(Int.self) {
                                sessions = count
                            }
                            return sessions
                        }
                    }
                }
                return try await group.reduce(0) { max($0, $1) }
            }
            #expect(busiest > 1 && busiest <= PostgresConnections.maxInUse + 2, "at most the pool (and this test's fixture) at once: \(busiest)")
        }
    }

    @Test("Nodes that start at once on an empty database migrate it once, under the advisory lock")
    func migrationsOnce() async throws {
        let server = try await PostgresServer.sharedOffPool()
        let database = try await server.makeDatabaseOffPool()
        defer { server.dropLater(database) }
        let location = try PostgresStoreLocation(url: server.url(database: database), password: server.password)
        let stores = try await withThrowingTaskGroup(of: PostgresConfigStore.self) { group in
            for _ in 0..<5 { group.addTask { try await PostgresConfigStore(location: location) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(try await server.sqlOffPool("SELECT version FROM gatehouse_schema ORDER BY version", database: database)
            == PostgresSchema.steps.map { String($0.version) }.joined(separator: "\n"), "each step once")
        for store in stores {
            #expect(try await store.revision() == 0)
            await store.close()
        }
    }

    @Test("An idle feed waits a catch-up interval between reads of the store (it once spun once its first wait timed out)")
    func idleFeedWaits() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let (waits, waiting) = AsyncStream.makeStream(of: ContinuousClock.Instant.self)
            let reader = try await PostgresConfigStore(
                location: try fixture.location(), catchUpInterval: .milliseconds(200), logger: Logger(label: "test"),
                feedWaits: { waiting.yield(.now) })
            let reading = Task { for try await _ in reader.changes(after: 0) {} }
            var instants: [ContinuousClock.Instant] = []
            for await instant in waits {
                instants.append(instant)
                if instants.count == 6 { break }
            }
            reading.cancel()
            await reader.close()
            // Nothing is committed: each wait after the first ends by its timer, never sooner.
            let gaps = zip(instants.dropFirst(), instants).map { $0 - $1 }
            #expect(gaps.allSatisfy { $0 >= .milliseconds(190) }, "waits \(gaps) apart")
        }
    }

    @Test("A commit whose notification never came arrives by the catch-up, within about a second")
    func catchUpWithoutNotification() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let (waits, waiting) = AsyncStream.makeStream(of: Void.self)
            let reader = try await PostgresConfigStore(
                location: try fixture.location(), catchUpInterval: .seconds(1), logger: Logger(label: "test"), feedWaits: { waiting.yield() })
            let writer = try await fixture.open()
            let server = try await PostgresServer.sharedOffPool()
            let database = try fixture.location().database
            let document = storedDocument("a", "a: 1")
            try await writer.commit(
                [ResourceChange(operation: .created, key: document.key, document: document, generation: 1, expected: .absent, origin: "", diff: "")],
                basedOn: nil, actor: "w", at: Date())
            let took = try await within(.seconds(30)) {
                let (arrivals, arrived) = AsyncStream.makeStream(of: StoreBatch.self)
                let reading = Task {
                    for try await batch in reader.changes(after: 0) { arrived.yield(batch) }
                }
                defer { reading.cancel() }
                var feed = arrivals.makeAsyncIterator()
                var waited = waits.makeAsyncIterator()
                guard await feed.next()?.revision == 1 else { return Duration?.none }
                // The feed has read everything and waits: only a wake-up can bring what follows.
                await waited.next()
                // Another writer whose notification was lost: the revision moves, no NOTIFY is sent.
                let committed = ContinuousClock.now
                _ = try await server.sqlOffPool("""
                    UPDATE gatehouse_store SET revision = 2;
                    INSERT INTO gatehouse_change (batch, at, actor, operation, api_group, kind, namespace, name, generation, origin, diff)
                    VALUES (2, 0, 'w', 'created', 'gatehouse.dev', 'Function', 'default', 'z', 1, '', '')
                    """, database: database)
                guard await feed.next()?.entries.map(\.name) == ["z"] else { return nil }
                return ContinuousClock.now - committed
            }
            await reader.close()
            // Without the catch-up it would never arrive (no NOTIFY was sent); how fast is for the record.
            let arrival = try #require(took, "the batch never arrived")
            print("a batch without a notification arrived \(arrival) after its commit")
        }
    }
}
}
