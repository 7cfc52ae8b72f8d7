import Foundation
import GatehouseTesting
import Testing

/// Two nodes on a fresh database of the test process's PostgreSQL: `node-a` starts with `config`,
/// `node-b` joins its CA with a join token. `body` gets both and the arguments that point a node
/// at the store (`--node-name` aside), for restarts; node-b is stopped afterwards, and its log
/// printed when `body` fails.
func withJoinedNodes(
    _ config: String, extra: [String] = [], prepare: ((URL) throws -> Void)? = nil,
    _ body: (_ first: RunningGatehouse, _ second: RunningGatehouse, _ arguments: [String], _ server: PostgresServer) async throws -> Void
) async throws {
    try await PostgresMeshSuites.PostgresSharedStoreTests.withStore { store, server in
        let arguments = store + extra
        try await withGatehouse(config, arguments: arguments + ["--node-name", "node-a"], prepare: prepare) { first in
            let created = try await first.cli(["nodes", "token", "create", "--lifetime", "10m"])
            #expect(created.status == 0, "\(created.stderr)")
            let tokenFile = first.directory.appendingPathComponent("join-token")
            try Data(created.stdout.utf8).write(to: tokenFile)
            let second = try await RunningGatehouse.start(
                config: "", arguments: arguments + ["--node-name", "node-b", "--join-token-file", tokenFile.path], applyingConfig: false)
            do {
                try await body(first, second, arguments, server)
            } catch {
                _ = try? await second.stop()
                print("--- node-b stderr ---\n\(second.stderr)")
                throw error
            }
            try await second.stop()
            second.removeDirectory()
        }
    }
}
