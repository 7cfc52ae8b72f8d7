import Foundation
import GatehouseTesting
import Testing

/// TLS to PostgreSQL (`?sslmode=verify-full&sslrootcert=…`): the store's connections are
/// encrypted and the server is checked; a server that cannot prove its name, or offers no TLS when
/// TLS is required, stops the start with the reason.
extension PostgresMeshSuites {
@Suite("TLS to the PostgreSQL store", .serialized)
struct PostgresTLSTests {
    static func passwordFile(_ server: PostgresServer) throws -> String {
        let file = server.directory.appendingPathComponent("gatehouse-password")
        try Data((server.password + "\n").utf8).write(to: file)
        return file.path
    }

    @Test("verify-full with the server's root: Gatehouse serves from the store, and every connection it holds is encrypted")
    func verifiedServer() async throws {
        let server = try await PostgresServer.startOffPool(tlsName: "localhost")
        defer { server.stop() }
        let database = try await server.makeDatabaseOffPool()
        let root = try #require(server.certificate).path
        let url = "postgres://gatehouse@localhost:\(server.port)/\(database)?sslmode=verify-full&sslrootcert=\(root)"
        try await withGatehouse(fixtureFunction(name: "fn"), arguments: ["--store", url, "--store-password-file", try Self.passwordFile(server)]) { gatehouse in
            let served = try await gatehouse.request("fn")
            #expect(served.status == 200)
            let others = "FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '\(database)' AND s.pid <> pg_backend_pid()"
            let encrypted = try await server.sqlOffPool("SELECT count(*) \(others) AND s.ssl")
            let plaintext = try await server.sqlOffPool("SELECT count(*) \(others) AND NOT s.ssl")
            #expect((Int(encrypted) ?? 0) >= 1, "Gatehouse's connections use TLS")
            #expect(plaintext == "0", "none in plaintext")
            #expect(gatehouse.stderr.contains("sslmode=verify-full"), "the log names the mode")
        }
    }

    @Test("A certificate for another name under verify-full, and sslmode=require against a server without TLS, stop the start with the reason")
    func refusedServers() async throws {
        let impostor = try await PostgresServer.startOffPool(tlsName: "db.example")
        defer { impostor.stop() }
        let root = try #require(impostor.certificate).path
        let wrongName = "postgres://gatehouse@localhost:\(impostor.port)/postgres?sslmode=verify-full&sslrootcert=\(root)"
        let refused = try await RunningGatehouse.runCLI(
            ["up", "--store", wrongName, "--store-password-file", try Self.passwordFile(impostor), "--state-dir",
             try RunningGatehouse.makeTemporaryDirectory().path, "--ingress", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--mesh", "127.0.0.1:0"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("postgres://gatehouse@localhost:\(impostor.port)/postgres?sslmode=verify-full"), "\(refused.stderr)")
        #expect(!refused.stderr.contains(impostor.password))

        let plain = try await PostgresServer.sharedOffPool()
        let required = "postgres://gatehouse@127.0.0.1:\(plain.port)/postgres?sslmode=require"
        let noTLS = try await RunningGatehouse.runCLI(
            ["up", "--store", required, "--store-password-file", try Self.passwordFile(plain), "--state-dir",
             try RunningGatehouse.makeTemporaryDirectory().path, "--ingress", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--mesh", "127.0.0.1:0"])
        #expect(noTLS.status != 0)
        #expect(noTLS.stderr.lowercased().contains("ssl") || noTLS.stderr.lowercased().contains("tls"), "\(noTLS.stderr)")
    }
}
}
