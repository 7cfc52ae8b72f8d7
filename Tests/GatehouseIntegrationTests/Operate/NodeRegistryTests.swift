import Foundation
import GatehouseTesting
import Testing

/// The node registry through real `gatehouse up` processes: three nodes on one PostgreSQL (the
/// database from `PostgresSharedStoreTests.withStore`), and one node on SQLite.
extension PostgresMeshSuites {
@Suite("The node registry: gatehouse get nodes", .serialized)
struct NodeRegistryTests {
    /// Heartbeats every second: NotReady after 3 s without one (the default is 5 s and 15 s) — short
    /// for the test, long enough that a live node on a loaded machine does not miss three.
    static let fastHeartbeat = ["--node-heartbeat", "1s"]

    /// `gatehouse get nodes -o json` through `gatehouse`'s admin API.
    static func nodes(_ gatehouse: RunningGatehouse) async throws -> [[String: Any]] {
        let listed = try await gatehouse.cli(["get", "nodes", "-o", "json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        return (try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8))) as? [[String: Any]] ?? []
    }

    /// Each node's state, from `GET /api/v1/nodes` (lighter than a CLI process per poll).
    static func states(_ gatehouse: RunningGatehouse) async throws -> [String: String] {
        states(try await gatehouse.apiList("/api/v1/nodes"))
    }

    static func states(_ nodes: [[String: Any]]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: nodes.compactMap { node in
            (node["name"] as? String).map { ($0, node["state"] as? String ?? "") }
        })
    }

    /// Starts one node per name on `arguments`, runs `body`, and stops every one still running.
    static func withNodes(_ names: [String], arguments: [String], _ body: ([RunningGatehouse]) async throws -> Void) async throws {
        var started: [RunningGatehouse] = []
        func stopAll() async {
            for node in started {
                _ = try? await node.stop()
                node.removeDirectory()
            }
        }
        do {
            for name in names {
                started.append(try await RunningGatehouse.start(config: "", arguments: arguments + ["--node-name", name], applyingConfig: false))
            }
            try await body(started)
        } catch {
            for node in started { print("--- \(node.nodeName) stderr ---\n\(node.stderr)") }
            await stopAll()
            throw error
        }
        await stopAll()
    }

    @Test("Three nodes on one PostgreSQL each list all three Ready; one killed with -9 turns NotReady while the others stay Ready; one stopped cleanly is gone at once")
    func threeNodesOneKilled() async throws {
        try await PostgresSharedStoreTests.withStore { arguments, server in
            try await Self.withNodes(["node-a", "node-b", "node-c"], arguments: arguments + Self.fastHeartbeat) { nodes in
                for node in nodes {
                    let listed = try await eventually("\(node.nodeName) to list three Ready nodes") {
                        let listed = try await Self.nodes(node)
                        return Self.states(listed) == ["node-a": "Ready", "node-b": "Ready", "node-c": "Ready"] ? listed : nil
                    }
                    for (entry, gatehouse) in zip(listed, nodes) {
                        #expect(entry["name"] as? String == gatehouse.nodeName, "by name")
                        let addresses = entry["addresses"] as? [String: Any] ?? [:]
                        #expect(addresses["admin"] as? String == gatehouse.admin, "the addresses of endpoints.json")
                        #expect(addresses["ingress"] as? String == gatehouse.ingress)
                        #expect(addresses["mesh"] as? String == gatehouse.mesh)
                        let heartbeat = try #require(entry["lastHeartbeat"] as? String)
                        #expect(ISO8601DateFormatter().date(from: heartbeat) != nil, "RFC 3339: \(heartbeat)")
                    }
                }
                #expect(nodes[0].stderr.contains("  node          node-a  (gatehouse get nodes"), "the startup summary names the node")
                let table = try await nodes[0].cli(["get", "nodes"])
                #expect(table.stdout.hasPrefix("NAME") && table.stdout.contains("node-c") && table.stdout.contains("Ready"), "\(table.stdout)")

                try await nodes[1].kill()
                let killedAt = ContinuousClock.now
                _ = try await eventually("node-b to be NotReady", timeout: .seconds(30)) {
                    try await Self.states(nodes[2])["node-b"] == "NotReady" ? true : nil
                }
                print("a node killed with -9 was NotReady \(ContinuousClock.now - killedAt) after the kill (heartbeat 1s, gone after 3s)")
                // The live ones keep heartbeating (a heartbeat delayed past 3 s on a loaded machine
                // would show for a moment, and is waited out), and every node sees the same.
                for node in [nodes[0], nodes[2]] {
                    _ = try await eventually("\(node.nodeName) to see node-b NotReady and the others Ready", timeout: .seconds(30)) {
                        try await Self.states(node) == ["node-a": "Ready", "node-b": "NotReady", "node-c": "Ready"] ? true : nil
                    }
                }
                #expect(Self.states(try await Self.nodes(nodes[0]))["node-b"] == "NotReady", "get nodes -o json says so too")
                // A clean stop leaves at once: no waiting for a gone-after interval.
                #expect(try await nodes[2].stop() == 0)
                #expect(Self.states(try await Self.nodes(nodes[0])) == ["node-a": "Ready", "node-b": "NotReady"])
                for node in nodes { #expect(!node.stderr.contains(server.password)) }
            }
        }
    }

    @Test("A second node with a live node's name is refused at start; the same state directory takes it back after kill -9; a clean stop frees it at once")
    func sameName() async throws {
        try await PostgresSharedStoreTests.withStore { arguments, _ in
            // Default heartbeats: a killed node stays Ready for 15 s, longer than this test needs.
            let named = arguments + ["--node-name", "node-a"]
            var refusedStart: String?
            try await Self.withNodes(["node-a"], arguments: arguments) { nodes in
                do {
                    let second = try await RunningGatehouse.start(config: "", arguments: named, applyingConfig: false)
                    _ = try? await second.stop()
                    second.removeDirectory()
                    Issue.record("a second node-a started while the first was Ready")
                } catch {
                    refusedStart = "\(error)"
                }
                let refusal = try #require(refusedStart)
                #expect(refusal.contains("node name node-a is held by another running node"), "\(refusal)")
                #expect(refusal.contains("--node-name") && refusal.contains(nodes[0].admin), "\(refusal)")
                #expect(refusal.contains("nothing was started"), "\(refusal)")

                // Killed, and started again at once from its own state directory: still Ready
                // in the registry, but the directory's lock says that process is gone.
                try await nodes[0].kill()
                let restarted = try await nodes[0].restart(arguments: named, applyingConfig: false)
                do {
                    let listed = try await Self.nodes(restarted)
                    #expect(Self.states(listed) == ["node-a": "Ready"])
                    #expect((listed.first?["addresses"] as? [String: Any])?["admin"] as? String == restarted.admin)
                    #expect(try await restarted.stop() == 0)
                } catch {
                    print("--- restarted node-a stderr ---\n\(restarted.stderr)")
                    _ = try? await restarted.stop()
                    throw error
                }
                // Stopped cleanly: its row is gone, so another directory gets the name without waiting 15 s.
                let successor = try await RunningGatehouse.start(config: "", arguments: named, applyingConfig: false)
                do {
                    #expect(Self.states(try await Self.nodes(successor)) == ["node-a": "Ready"])
                } catch {
                    print("--- successor stderr ---\n\(successor.stderr)")
                    throw error
                }
                _ = try? await successor.stop()
                successor.removeDirectory()
            }
        }
    }

    @Test("On SQLite, get nodes lists the one node: Ready, with its addresses; a bad --node-name is refused before anything starts")
    func sqliteSingleNode() async throws {
        try await withGatehouse(fixtureFunction(name: "fn"), arguments: ["--node-name", "solo"]) { gatehouse in
            let listed = try await Self.nodes(gatehouse)
            #expect(Self.states(listed) == ["solo": "Ready"], "\(listed)")
            #expect((listed.first?["addresses"] as? [String: Any])?["ingress"] as? String == gatehouse.ingress)
            let table = try await gatehouse.cli(["get", "nodes"])
            #expect(table.stdout.contains("solo") && table.stdout.contains("Ready") && table.stdout.contains(gatehouse.ingress), "\(table.stdout)")
            let missing = try await gatehouse.cli(["get", "nodes", "other"])
            #expect(missing.status != 0 && missing.stderr.contains("node other not found"), "\(missing.stderr)")
        }
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let refused = try await RunningGatehouse.runCLI(
            ["up", "--state-dir", directory.appendingPathComponent("state").path, "--node-name", "Node_1"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("node name \"Node_1\" has an uppercase letter"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("state").path), "nothing was started")
    }
}
}
