import Foundation
import GatehouseStore
import GatehouseTesting
import Testing

/// The node registry's rules as plain values: no store, no clock.
@Suite("Node liveness and names")
struct NodeLivenessTests {
    func holder(owner: String, since: Duration, goneAfter: Duration = .seconds(15)) -> NodeRecord {
        NodeRecord(
            name: "node-1", owner: owner, addresses: NodeAddresses(), startedAt: Date(), lastHeartbeat: Date(),
            sinceHeartbeat: since, goneAfter: goneAfter)
    }

    @Test("A node is Ready while its last heartbeat is younger than its gone-after interval, NotReady from then on")
    func state() {
        #expect(NodeLiveness.state(sinceHeartbeat: .zero, goneAfter: .seconds(15)) == .ready)
        #expect(NodeLiveness.state(sinceHeartbeat: .milliseconds(14_999), goneAfter: .seconds(15)) == .ready)
        #expect(NodeLiveness.state(sinceHeartbeat: .seconds(15), goneAfter: .seconds(15)) == .notReady)
        #expect(holder(owner: "a", since: .seconds(1), goneAfter: .milliseconds(600)).state == .notReady, "judged by the node's own interval")
        #expect(NodeTiming().heartbeatInterval == .seconds(5) && NodeTiming().goneAfter == .seconds(15), "three missed heartbeats")
        #expect(NodeTiming(heartbeatInterval: .milliseconds(200)).goneAfter == .milliseconds(600))
    }

    @Test("A name is free, taken back by its own state directory, taken over from a NotReady holder, or refused while its holder is Ready")
    func claims() {
        #expect(NodeLiveness.claim(by: "dir-a", holder: nil) == .free)
        let live = holder(owner: "dir-a", since: .seconds(1))
        #expect(NodeLiveness.claim(by: "dir-a", holder: live) == .restarted(live), "the same state directory: its last process has ended")
        #expect(NodeLiveness.claim(by: "dir-b", holder: live) == .refused(live))
        let gone = holder(owner: "dir-a", since: .seconds(16))
        #expect(NodeLiveness.claim(by: "dir-b", holder: gone) == .takenOverFromGone(gone))
    }

    @Test("Node names are DNS-1123 subdomains; any host name is made one for the default")
    func names() throws {
        for valid in ["node-1", "a", "gatehouse-0.gatehouse.prod", String(repeating: "a", count: 63)] {
            #expect(try NodeName(validating: valid).value == valid)
        }
        for invalid in ["", "Node-1", "node_1", "-node", "node-", "a..b", ".a", "nöde", String(repeating: "a", count: 64)] {
            #expect(throws: NodeName.Invalid.self, "\(invalid)") { try NodeName(validating: invalid) }
        }
        do {
            _ = try NodeName(validating: "Node_1")
        } catch {
            #expect(error.description.contains("uppercase") && error.description.contains("node-1"), "\(error)")
        }
        #expect(NodeName.fromHostName("Build-Host.Example").value == "build-host.example")
        #expect(NodeName.fromHostName("_build_01_.local.").value == "build-01.local")
        #expect(NodeName.fromHostName("").value == "gatehouse")
        #expect(NodeName.fromHostName("___").value == "gatehouse")
        #expect(NodeName.fromHostName(String(repeating: "a", count: 70)).value == String(repeating: "a", count: 63))
    }
}

/// The registry in each store (SQLite, and a real PostgreSQL on 127.0.0.1): claims, heartbeats,
/// leaving, NotReady and pruning, with several instances as several processes would open them.
extension ConfigStoreSuites {
@Suite("The node registry in every store", .timeLimit(.minutes(3)))
struct NodeRegistryTests {
    func registry(_ fixture: StoreFixture) async throws -> any NodeRegistry {
        try #require(try await fixture.open() as? any NodeRegistry)
    }

    func claim(_ name: String, owner: String, goneAfter: Duration = .seconds(60), admin: String? = nil) throws -> NodeClaim {
        NodeClaim(name: try NodeName(validating: name), owner: owner, addresses: NodeAddresses(admin: admin), goneAfter: goneAfter)
    }

    @Test("A live node's name is refused to another state directory, taken back by its own, and free at once after a clean leave", arguments: StoreBackend.allCases)
    func claimHeartbeatLeave(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let first = try await registry(fixture), second = try await registry(fixture)
            let a = try claim("node-1", owner: "dir-a")
            #expect(try await first.claim(a) == .free)
            guard case .refused(let holder) = try await second.claim(try claim("node-1", owner: "dir-b")) else {
                Issue.record("a second state directory got a live node's name")
                return
            }
            #expect(holder.owner == "dir-a" && holder.state == .ready)
            guard case .restarted = try await second.claim(a) else {
                Issue.record("the same state directory did not get its name back")
                return
            }
            var announced = a
            announced.addresses = NodeAddresses(ingress: "http://127.0.0.1:8080", mesh: "https://127.0.0.1:15443", admin: "http://127.0.0.1:15000")
            #expect(try await first.heartbeat(announced))
            let nodes = try await second.nodes()
            #expect(nodes.map(\.name) == ["node-1"])
            #expect(nodes.first?.state == .ready)
            #expect(nodes.first?.addresses == announced.addresses)
            #expect(nodes.first?.goneAfter == .seconds(60))
            #expect(abs(nodes.first?.lastHeartbeat.timeIntervalSinceNow ?? 99) < 30, "stamped by the store's clock, which is this machine's")

            try await second.leave(try claim("node-1", owner: "dir-b"))
            #expect(try await first.nodes().count == 1, "only the holder's leave deletes the row")
            try await first.leave(a)
            #expect(try await second.nodes().isEmpty)
            #expect(try await second.claim(try claim("node-1", owner: "dir-b")) == .free)
            #expect(try await first.heartbeat(a) == false, "the name is no longer the first's")
        }
    }

    @Test("A node that stops heartbeating is NotReady after its interval, its name can be taken over, and long-gone rows are pruned", arguments: StoreBackend.allCases)
    func notReadyTakeOverPrune(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let first = try await registry(fixture), second = try await registry(fixture)
            let old = try claim("old", owner: "dir-old", goneAfter: .milliseconds(300))
            #expect(try await first.claim(old) == .free)
            let quiet = try claim("node-1", owner: "dir-a", goneAfter: .milliseconds(300))
            #expect(try await first.claim(quiet) == .free)
            _ = try await eventually("node-1 to be NotReady", timeout: .seconds(20)) {
                try await second.nodes().first { $0.name == "node-1" }?.state == .notReady ? true : nil
            }
            let taker = try claim("node-1", owner: "dir-b", goneAfter: .seconds(60))
            guard case .takenOverFromGone(let previous) = try await second.claim(taker) else {
                Issue.record("a NotReady node's name was not taken over")
                return
            }
            #expect(previous.owner == "dir-a")
            #expect(try await first.heartbeat(quiet) == false, "the old holder learns it lost the name")
            #expect(try await first.nodes().first { $0.name == "node-1" }?.state == .ready)

            _ = try await eventually("old to be silent for 2 s", timeout: .seconds(20)) {
                try await second.nodes().first { $0.name == "old" }.map { $0.sinceHeartbeat >= .seconds(2) ? true : nil } ?? nil
            }
            #expect(try await second.heartbeat(taker))
            #expect(try await first.prune(notSeenFor: .seconds(1)) == 1)
            #expect(try await second.nodes().map(\.name) == ["node-1"], "a node that heartbeats is never pruned")
        }
    }

    @Test("Of four processes claiming one free name at once, exactly one gets it", arguments: StoreBackend.allCases)
    func concurrentClaims(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            var registries: [any NodeRegistry] = []
            for _ in 0..<4 { registries.append(try await registry(fixture)) }
            let decisions = try await withThrowingTaskGroup(of: NodeClaimDecision.self) { group in
                for (index, registry) in registries.enumerated() {
                    let claim = try claim("node-1", owner: "dir-\(index)")
                    group.addTask { try await registry.claim(claim) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(decisions.count { $0 == .free } == 1, "\(decisions)")
            #expect(decisions.count { if case .refused = $0 { true } else { false } } == 3, "\(decisions)")
        }
    }
}
}

/// What a node says about its heartbeats: each change once.
@Suite("Node heartbeat health")
struct NodeHeartbeatHealthTests {
    @Test("A failing store is said once and its recovery once; a lost name once; a reclaimed name each time")
    func reports() {
        var health = NodeHeartbeatHealth()
        #expect(health.record(.written) == nil, "all well: nothing to say")
        #expect(health.record(.storeFailed("refused")) == .storeFailing("refused"))
        #expect(health.record(.storeFailed("refused")) == nil, "not every interval")
        #expect(health.condition == .storeFailing)
        #expect(health.record(.written) == .recovered)
        #expect(health.record(.written) == nil)
        let holder = NodeRecord(
            name: "node-1", owner: "dir-b", addresses: NodeAddresses(), startedAt: Date(), lastHeartbeat: Date(),
            sinceHeartbeat: .seconds(1), goneAfter: .seconds(15))
        #expect(health.record(.nameHeld(by: holder)) == .nameLost(holder: holder))
        #expect(health.record(.nameHeld(by: holder)) == nil)
        #expect(health.record(.storeFailed("down")) == .storeFailing("down"), "a different trouble is said")
        #expect(health.record(.reclaimed) == .reclaimed)
        #expect(health.condition == .fine)
    }
}
