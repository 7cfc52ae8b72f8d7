import Foundation
import GatehouseTesting
import Testing

/// One CA for a mesh on PostgreSQL (issue 19): a node started with a join token gets an
/// intermediate under the first node's root, so the nodes' workloads trust each other; the root
/// key stays where it was made.
extension PostgresMeshSuites {
@Suite("Nodes join the mesh's CA with a join token", .serialized)
struct NodeJoinTests {
    @Test("A joined node's SVIDs are accepted by the first node's mesh listener and the other way round; the token works once and is never logged")
    func joinWithToken() async throws {
        try await PostgresSharedStoreTests.withStore { arguments, _ in try await joined(arguments) }
    }

    private func joined(_ arguments: [String]) async throws {
        try await withGatehouse(fixtureFunction(name: "fn"), arguments: arguments) { first in
            let created = try await first.cli(["nodes", "token", "create", "--lifetime", "10m"])
            #expect(created.status == 0, "\(created.stderr)")
            let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(token.hasPrefix("ghjoin_"), "\(created.stdout)")
            let tokenFile = first.directory.appendingPathComponent("join-token")
            try Data((token + "\n").utf8).write(to: tokenFile)

            let second = try await RunningGatehouse.start(
                config: "", arguments: arguments + ["--join-token-file", tokenFile.path], applyingConfig: false)
            do {
                let firstCA = first.stateDirectory.appendingPathComponent("ca")
                let secondCA = second.stateDirectory.appendingPathComponent("ca")
                let roots = try [firstCA, secondCA].map {
                    try String(contentsOf: $0.appendingPathComponent("root-cert.pem"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                }
                #expect(roots[0] == roots[1], "one root for the mesh")
                #expect(!FileManager.default.fileExists(atPath: secondCA.appendingPathComponent("root-key.pem").path), "the root key stays on the first node")
                #expect(FileManager.default.fileExists(atPath: secondCA.appendingPathComponent("signer-key.pem").path))

                // Workloads of either node reach functions on the other over mutual TLS.
                let fromSecond = try await second.issueSVID("spiffe://cluster.local/ns/default/sa/caller")
                let onFirst = try await MeshClient.request(
                    first.mesh, host: "fn.default.\(first.domain)", path: "/",
                    certificate: fromSecond.appendingPathComponent("cert.pem"), key: fromSecond.appendingPathComponent("key.pem"),
                    bundle: fromSecond.appendingPathComponent("bundle.pem"))
                #expect(onFirst.status == 200, "\(onFirst.body)")
                let fromFirst = try await first.issueSVID("spiffe://cluster.local/ns/default/sa/caller")
                let onSecond = try await MeshClient.request(
                    second.mesh, host: "fn.default.\(second.domain)", path: "/",
                    certificate: fromFirst.appendingPathComponent("cert.pem"), key: fromFirst.appendingPathComponent("key.pem"),
                    bundle: fromFirst.appendingPathComponent("bundle.pem"))
                #expect(onSecond.status == 200, "\(onSecond.body)")

                // The token was spent: a third node with it is refused, and says what to do.
                do {
                    let third = try await RunningGatehouse.start(
                        config: "", arguments: arguments + ["--join-token-file", tokenFile.path], applyingConfig: false)
                    _ = try? await third.stop()
                    Issue.record("a spent token let a third node join")
                } catch {
                    #expect("\(error)".contains("the join token is unknown, already used or expired"), "\(error)")
                    #expect("\(error)".contains("gatehouse nodes token create"))
                    #expect(!"\(error)".contains(token))
                }

                for gatehouse in [first, second] { #expect(!gatehouse.stderr.contains(token), "the token is never logged") }
                let audit = try await first.cli(["audit", "export"])
                #expect(audit.stdout.contains("ca.join_token_created") && audit.stdout.contains("ca.node_certified"), "\(audit.stdout.suffix(2000))")
                #expect(!audit.stdout.contains(token))
            } catch {
                _ = try? await second.stop()
                print("--- second gatehouse stderr ---\n\(second.stderr)")
                throw error
            }
            try await second.stop()
            second.removeDirectory()
        }
    }

    @Test("On SQLite there is no mesh to join: creating a token is refused with the reason, and up refuses --join-token-file without --store postgres://")
    func needsPostgres() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let created = try await gatehouse.cli(["nodes", "token", "create"])
            #expect(created.status != 0)
            #expect(created.stderr.contains("join tokens need a shared PostgreSQL store"), "\(created.stderr)")
            let refused = try await RunningGatehouse.runCLI(["up", "--join-token-file", "/nonexistent"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("--join-token-file goes with --store postgres://"), "\(refused.stderr)")
        }
    }
}
}
