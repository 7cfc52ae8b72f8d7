import Crypto
import Foundation
import GatehouseIdentity
import GatehouseTesting
import Testing
import X509

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

    @Test("A root rotated on the first node reaches the joined one: it renews its intermediate under the new root with its current key; a forged proof, a replayed superseded intermediate and a bundle written into the store get nothing")
    func rotationReachesJoinedNode() async throws {
        try await withJoinedNodes(fixtureFunction(name: "fn")) { first, second, arguments, server in
            let secondCA = second.stateDirectory.appendingPathComponent("ca")
            let joinedChain = try String(contentsOf: secondCA.appendingPathComponent("signer-cert.pem"), encoding: .utf8)
            let joinedKey = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: secondCA.appendingPathComponent("signer-key.pem"), encoding: .utf8))

            // Someone who can write to the store asks for node-b's intermediate without its key.
            let database = try #require(arguments[1].split(separator: "/").last.map(String.init))
            let forger = try P256.Signing.PrivateKey().signature(for: Data("gatehouse node renewal".utf8))
            let forged = try server.sql(
                """
                INSERT INTO gatehouse_join_request (node, public_key, renewal_chain, renewal_proof)
                VALUES ('node-b', '\(try Certificate.PublicKey(P256.Signing.PrivateKey().publicKey).serializeAsPEM().pemString)',
                        '\(joinedChain)', '\(forger.derRepresentation.base64EncodedString())') RETURNING id
                """, database: database)
            let refusal = try await eventually("the forged renewal to be answered", timeout: .seconds(30)) { () -> String? in
                let answer = try server.sql("SELECT coalesce(refusal, 'GRANTED') FROM gatehouse_join_request WHERE id = \(forged) AND answered_at IS NOT NULL", database: database)
                return answer.isEmpty ? nil : answer
            }
            #expect(refusal.contains("not signed by its intermediate's key"), "\(refusal)")

            let rotated = try await first.cli(["ca", "rotate", "--overlap", "1h"])
            #expect(rotated.status == 0, "\(rotated.stderr)")
            // Only the new root: a node still on the old one fails this handshake.
            let newRoot = first.stateDirectory.appendingPathComponent("ca/root-cert.pem")
            let caller = try await first.issueSVID("spiffe://cluster.local/ns/default/sa/caller")
            _ = try await eventually("node-b to serve under the new root", timeout: .seconds(60)) { () -> Bool? in
                let response = try? await MeshClient.request(
                    second.mesh, host: "fn.default.\(second.domain)", path: "/",
                    certificate: caller.appendingPathComponent("cert.pem"), key: caller.appendingPathComponent("key.pem"), bundle: newRoot)
                return response?.status == 200 ? true : nil
            }
            let renewedChain = try String(contentsOf: secondCA.appendingPathComponent("signer-cert.pem"), encoding: .utf8)
            #expect(renewedChain != joinedChain)
            #expect(!FileManager.default.fileExists(atPath: secondCA.appendingPathComponent("root-key.pem").path), "still no root key on node-b")
            // node-b's workloads are trusted under the new root alone, by node-a.
            let fromSecond = try await second.issueSVID("spiffe://cluster.local/ns/default/sa/caller")
            let onFirst = try await MeshClient.request(
                first.mesh, host: "fn.default.\(first.domain)", path: "/",
                certificate: fromSecond.appendingPathComponent("cert.pem"), key: fromSecond.appendingPathComponent("key.pem"), bundle: newRoot)
            #expect(onFirst.status == 200, "\(onFirst.body)")
            #expect(second.stderr.contains("the mesh's root changed: asking for an intermediate under the new one"))

            // A superseded intermediate and its key (say, stolen from a backup) are worth
            // nothing: each intermediate is renewed once.
            let stolenKey = try Certificate.PublicKey(P256.Signing.PrivateKey().publicKey).serializeAsPEM().pemString
            let proof = try joinedKey.signature(for: Data("gatehouse node renewal\nnode-b\n\(stolenKey)".utf8))
            let replayed = try server.sql(
                """
                INSERT INTO gatehouse_join_request (node, public_key, renewal_chain, renewal_proof)
                VALUES ('node-b', '\(stolenKey)', '\(joinedChain)', '\(proof.derRepresentation.base64EncodedString())') RETURNING id
                """, database: database)
            let replayRefusal = try await eventually("the replayed renewal to be answered", timeout: .seconds(30)) { () -> String? in
                let answer = try server.sql("SELECT coalesce(refusal, 'GRANTED') FROM gatehouse_join_request WHERE id = \(replayed) AND answered_at IS NOT NULL", database: database)
                return answer.isEmpty ? nil : answer
            }
            #expect(replayRefusal.contains("not the latest this node was given"), "\(replayRefusal)")

            // A bundle someone wrote into the store is replaced by the root's node within a second or so.
            let hostile = try CertificateAuthority.create(trustDomain: "cluster.local").root.serializeAsPEM().pemString
            _ = try server.sql("UPDATE gatehouse_trust_bundle SET bundle = '\(hostile)'", database: database)
            _ = try await eventually("node-a to publish its bundle again", timeout: .seconds(30)) { () -> Bool? in
                let stored = try server.sql("SELECT bundle FROM gatehouse_trust_bundle", database: database)
                return stored.contains(hostile.split(separator: "\n")[1]) ? nil : true
            }
            #expect(first.stderr.contains("the trust bundle in the store is not the one this node published"))
            let trust = try await first.cli(["audit", "--kind", "ca.trust_changed", "-o", "json"])
            #expect(trust.stdout.contains("a new intermediate CA for node node-b"), "\(trust.stdout)")
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
