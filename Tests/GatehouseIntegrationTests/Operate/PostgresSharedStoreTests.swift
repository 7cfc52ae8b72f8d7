import Foundation
import GatehouseCore
import GatehouseTesting
import Testing

/// Two `gatehouse up` processes, each with its own state directory, on one PostgreSQL config
/// store (`--store postgres://…`, the password in `--store-password-file`): each serves what
/// the other applies, and of two concurrent applies the one that read an older version gets 409.
extension PostgresMeshSuites {
@Suite("A PostgreSQL store shared by two gatehouse processes", .serialized)
struct PostgresSharedStoreTests {
    static let propagationTarget: Duration = .seconds(1)
    /// Generous: the test asserts the change arrives through the shared store; timing is for the record.
    static let propagationAllowed: Duration = .seconds(20)

    /// A fresh database, and two gatehouses on it: the first applies `fn` at start, the second serves what is stored.
    static func withTwo(
        config: String = fixtureFunction(name: "fn"), prepare: ((URL) throws -> Void)? = nil,
        _ body: (RunningGatehouse, RunningGatehouse, PostgresServer) async throws -> Void
    ) async throws {
        try await withStore { arguments, server in
            try await withTwo(config: config, prepare: prepare, arguments: arguments, server: server, body)
        }
    }

    /// A fresh database on the test process's PostgreSQL (dropped afterwards), and the `gatehouse
    /// up` arguments that point at it (`--store`, `--store-password-file`).
    static func withStore(_ body: ([String], PostgresServer) async throws -> Void) async throws {
        let server = try await PostgresServer.sharedOffPool()
        let database = try await server.makeDatabaseOffPool()
        defer { server.dropLater(database) }
        let passwordFile = server.directory.appendingPathComponent("gatehouse-password")
        try Data((server.password + "\n").utf8).write(to: passwordFile)
        try await body(["--store", server.url(database: database), "--store-password-file", passwordFile.path], server)
    }

    private static func withTwo(
        config: String, prepare: ((URL) throws -> Void)?, arguments: [String], server: PostgresServer,
        _ body: (RunningGatehouse, RunningGatehouse, PostgresServer) async throws -> Void
    ) async throws {
        try await withGatehouse(config, arguments: arguments, prepare: prepare) { first in
            let second = try await RunningGatehouse.start(config: "", arguments: arguments, applyingConfig: false)
            do {
                try await body(first, second, server)
            } catch {
                _ = try? await second.stop()
                print("--- second gatehouse stderr ---\n\(second.stderr)")
                throw error
            }
            try await second.stop()
            second.removeDirectory()
        }
    }

    @Test("A change applied through one gatehouse is served by the other within about a second; the password is never logged")
    func otherWriterServed() async throws {
        try await Self.withTwo { first, second, server in
            #expect(try await second.request("fn").status == 200, "the second serves what the first stored")
            let deny = """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: closed, namespace: default}
                spec:
                  action: DENY
                  rules:
                  - to: [{operation: {paths: ["/*"]}}]
                """
            let applied = try await second.apply("deny.yaml", deny)
            #expect(applied.status == 0, "\(applied.stderr)")
            let acknowledged = ContinuousClock.now
            _ = try await eventually("the first gatehouse denies", timeout: .seconds(30)) {
                try await first.request("fn").status == 403 ? true : nil
            }
            let took = ContinuousClock.now - acknowledged
            print("over PostgreSQL, another node's change was served \(took) after it was acknowledged")
            #expect(took < Self.propagationAllowed, "target \(Self.propagationTarget), took \(took)")
            #expect(first.stderr.contains("configuration changed in the store"))
            #expect(try await first.storedNames(kind: "AuthorizationPolicy") == ["closed"])
            for gatehouse in [first, second] {
                #expect(gatehouse.stderr.contains("127.0.0.1:\(server.port)"), "the store is named in the log")
                #expect(!gatehouse.stderr.contains(server.password))
            }
        }
    }

    @Test("A PingSource fires once per minute for the mesh, not once per node: each minute has one event, whichever node claimed it")
    func schedulesFireOncePerMesh() async throws {
        try await CloudEventsFixture.ensureInstalled()
        let records = try CloudEventsFixture.write(into: try RunningGatehouse.makeTemporaryDirectory())
        defer { try? FileManager.default.removeItem(at: records.deletingLastPathComponent()) }
        let config = PingSourceTests.config(records: records)
        // The function's file beside the config (its working directory on both nodes).
        try await Self.withTwo(config: config, prepare: { try CloudEventsFixture.write(into: $0) }) { first, second, _ in
            let ticks = { CloudEventsFixture.received(by: "clock", in: records).compactMap { $0["attributes"] as? [String: Any] } }
            // Both nodes look for due minutes every second: once a second minute has fired, each
            // has long decided the first.
            _ = try await eventually("two minutes' ticks", timeout: .seconds(150)) {
                Set(ticks().compactMap { $0["time"] as? String }).count >= 2 ? true : nil
            }
            var ids: [String: Set<String>] = [:]
            for tick in ticks() { ids[tick["time"] as? String ?? "", default: []].insert(tick["id"] as? String ?? "") }
            #expect(ids.values.allSatisfy { $0.count == 1 }, "a minute fired on both nodes: \(ids)")
            #expect(try await second.storedNames(kind: "PingSource") == ["every-minute"], "both nodes serve the PingSource")
        }
    }

    @Test("Of two applies to one function from two gatehouses, the one that read an older version is refused and changes nothing")
    func concurrentAppliesConflict() async throws {
        try await Self.withTwo { first, second, _ in
            #expect(try await first.request("fn").status == 200)
            let gate = first.directory.appendingPathComponent("gate").path
            // The first's apply reads the store, then waits in its warm-up until the gate opens.
            let firstApply = Task { try await first.applyThroughAPI(file: "gated.yaml", SharedStoreTests.gatedFunction(gate: gate)) }
            try await SharedStoreTests.warmUpStarted(first)

            let secondApply = try await second.cli(
                ["apply", "-f", try first.writeFile("other.yaml", fixtureFunction(name: "fn", env: [("FIXTURE_CUSTOM", "second")]))])
            #expect(secondApply.status == 0, "\(secondApply.stderr)")

            _ = FileManager.default.createFile(atPath: gate, contents: nil)
            let refused = try await firstApply.value
            #expect(refused.status == 409)
            #expect(refused.errorCode == "conflict")
            #expect((refused.json["resource"] as? [String: Any])?["name"] as? String == "fn")
            let history = try await first.apiList("/api/v1/history?kind=Function&name=fn")
            #expect(history.count == 2, "created, then the second's change only: \(history)")
            _ = try await eventually("the first serves the second's version") {
                try await first.request("fn").env("FIXTURE_CUSTOM") == "second" ? true : nil
            }
        }
    }

    @Test("The CLI says which resource another node changed, and that nothing was applied")
    func conflictInTheCLI() async throws {
        try await Self.withTwo { first, second, _ in
            #expect(try await first.request("fn").status == 200)
            let gate = first.directory.appendingPathComponent("gate").path
            let firstApply = Task { try await first.apply("gated.yaml", SharedStoreTests.gatedFunction(gate: gate)) }
            try await SharedStoreTests.warmUpStarted(first)
            let deleted = try await second.cli(["delete", "function", "fn"])
            #expect(deleted.status == 0, "\(deleted.stderr)")
            _ = FileManager.default.createFile(atPath: gate, contents: nil)
            let refused = try await firstApply.value
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("fn") && refused.stderr.contains("someone else"), "\(refused.stderr)")
            #expect(refused.stderr.contains("nothing was applied"), "\(refused.stderr)")
        }
    }
}
}
