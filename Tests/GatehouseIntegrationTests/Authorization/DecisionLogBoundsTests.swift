import Foundation
import GatehouseTesting
import Testing

@Suite("The decision log is bounded and kept apart from the config", .serialized)
struct DecisionLogBoundsTests {
    static func fileSize(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? 0
    }

    /// A path as long as the listener accepts (its head limit is 60 KiB), for a denied request.
    static let longPath = "/admin/" + String(repeating: "a", count: 58_000)

    @Test("200 denied requests with 58 KB paths leave decisions.db small, gatehouse.db untouched, and an apply meanwhile succeeds")
    func floodOfDenials() async throws {
        let config = fixtureFunction(name: "fn") + "---\n" + AuthorizationTests.denyDelete
        try await withGatehouse(config) { gatehouse in
            let configDatabase = gatehouse.stateDirectory.appendingPathComponent("gatehouse.db")
            let decisionsDatabase = gatehouse.stateDirectory.appendingPathComponent("decisions.db")
            let configBefore = Self.fileSize(configDatabase)

            // The flood, with an apply in the middle of it.
            let changed = config.replacingOccurrences(of: "spec:\n  process:", with: "spec:\n  timeout: 60s\n  process:")
            async let applied = gatehouse.applyThroughAPI(file: "functions.yaml", changed)
            try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        for index in 0..<50 {
                            let response = try await gatehouse.request(
                                "fn", path: Self.longPath, headers: [("x-request-id", "flood-\(worker)-\(index)")])
                            #expect(response.status == 403)
                        }
                        return 0
                    }
                }
                for try await _ in group {}
            }
            #expect(try await applied.status == 200, "config writes are not starved by the decision log")

            // Every decision written (the recorder flushes in order; the last of each worker is enough).
            for worker in 0..<4 {
                _ = try await eventually("the flood's decisions to be written") {
                    try await gatehouse.api("/api/v1/decisions/flood-\(worker)-49").status == 200 ? true : nil
                }
            }
            let decision = try await gatehouse.api("/api/v1/decisions/flood-0-0")
            let entries = try JSONSerialization.jsonObject(with: Data(decision.body.utf8)) as? [[String: Any]]
            let entry = try #require(entries?.first, "\(decision.body)")
            let path = try #require(entry["path"] as? String)
            #expect(path.utf8.count <= 1024 && path.hasPrefix("/admin/aaaa") && path.contains("[truncated"), "\(path.prefix(80))…")

            // 200 × 58 KB would be 11.6 MB; each row keeps at most 1 KiB of path.
            let decisionsSize = Self.fileSize(decisionsDatabase)
            #expect(decisionsSize > 0 && decisionsSize < 1 << 20, "decisions.db is \(decisionsSize) bytes")
            let configAfter = Self.fileSize(configDatabase)
            #expect(configAfter - configBefore < 64 << 10, "gatehouse.db grew from \(configBefore) to \(configAfter) bytes")
        }
    }

    @Test("Past --decision-log-max-entries the oldest decisions are pruned and the newest kept")
    func entriesBound() async throws {
        let config = fixtureFunction(name: "fn") + "---\n" + AuthorizationTests.denyDelete
        try await withGatehouse(config, arguments: ["--decision-log-max-entries", "50"]) { gatehouse in
            for index in 0..<120 {
                #expect(try await gatehouse.request("fn", method: .DELETE, headers: [("x-request-id", "bound-\(index)")]).status == 403)
            }
            _ = try await eventually("the newest decision to be written") {
                try await gatehouse.api("/api/v1/decisions/bound-119").status == 200 ? true : nil
            }
            _ = try await eventually("the oldest decisions to be pruned") {
                try await gatehouse.api("/api/v1/decisions/bound-0").status == 404 ? true : nil
            }
            #expect(try await gatehouse.api("/api/v1/decisions/bound-115").status == 200, "the newest are kept")
        }
    }

    @Test("A plain allow is explained from memory and not kept across a restart; a denial is; --decision-log-allowed disk keeps allows too")
    func allowsInMemory() async throws {
        let config = fixtureFunction(name: "fn") + "---\n" + AuthorizationTests.denyDelete
        for (arguments, keptAcrossRestart) in [([String](), false), (["--decision-log-allowed", "disk"], true)] {
            let gatehouse = try await RunningGatehouse.start(config: config, arguments: arguments)
            #expect(try await gatehouse.request("fn", headers: [("x-request-id", "allowed-1")]).status == 200)
            #expect(try await gatehouse.request("fn", method: .DELETE, headers: [("x-request-id", "denied-1")]).status == 403)
            for id in ["allowed-1", "denied-1"] {
                _ = try await eventually("the decision for \(id)") { try await gatehouse.api("/api/v1/decisions/\(id)").status == 200 ? true : nil }
            }
            _ = try await gatehouse.stop()
            let restarted = try await gatehouse.restart()
            #expect(try await restarted.api("/api/v1/decisions/denied-1").status == 200, "a denial is kept")
            #expect(try await restarted.api("/api/v1/decisions/allowed-1").status == (keptAcrossRestart ? 200 : 404), "\(arguments)")
            try await restarted.stop()
            restarted.removeDirectory()
        }
    }
}
