import Foundation
import GatehouseTesting
import Testing

@Suite("Applying changes to a running Gatehouse", .serialized)
struct ApplyTests {
    @Test("apply, get, describe, logs and delete work through the CLI against a live instance")
    func cliRoundTrip() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let applied = try await gatehouse.apply("second.yaml", fixtureFunction(name: "second", env: [("FIXTURE_CUSTOM", "v1")]))
            #expect(applied.status == 0, "\(applied.stderr)")
            #expect(applied.stdout.contains("function default/second created"))
            let response = try await gatehouse.request("second", path: "/marker-one")
            #expect(response.status == 200)
            #expect(response.env("FIXTURE_CUSTOM") == "v1")

            let table = try await gatehouse.cli(["get", "functions"])
            #expect(table.status == 0)
            let row = try #require(table.stdout.split(separator: "\n").first { $0.contains(" second ") })
            #expect(row.contains("http://second.default.localhost:") && row.contains("Ready") && row.contains("1/1"), "\(row)")
            #expect(table.stdout.contains(" fn "))

            let json = try await gatehouse.cli(["get", "fn", "second", "-o", "json"])
            let statuses = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
            #expect(statuses.count == 1)
            #expect(statuses.first?["revision"] as? String == "second-00001")
            #expect((statuses.first?["instances"] as? [Any])?.count == 1)

            let yaml = try await gatehouse.cli(["get", "function", "second", "-o", "yaml"])
            #expect(yaml.stdout.contains("name: second") && yaml.stdout.contains("FIXTURE_CUSTOM"))

            let describe = try await gatehouse.cli(["describe", "function", "second"])
            #expect(describe.status == 0)
            #expect(describe.stdout.contains("second-00001 (generation 1)"))
            #expect(describe.stdout.contains("Last cold start:") && describe.stdout.contains(" ms at "))
            #expect(describe.stdout.contains("second.yaml:1"))

            let logs = try await gatehouse.cli(["logs", "second"])
            #expect(logs.stdout.contains("second-00001/1 stdout: fixture: GET /marker-one"), "\(logs.stdout)")
            let recent = try await gatehouse.cli(["logs", "second", "--since", "1h"])
            #expect(recent.stdout.contains("GET /marker-one"))

            let deleted = try await gatehouse.cli(["delete", "function", "second"])
            #expect(deleted.stdout.contains("function default/second deleted"), "\(deleted.stderr)")
            let gone = try await gatehouse.request("second")
            #expect(gone.status == 404)
            #expect(gone.errorCode == "route_not_found")
            let missing = try await gatehouse.cli(["get", "function", "second"])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("not found"))
            #expect(try await gatehouse.request("fn").status == 200)
        }
    }

    @Test("apply -f - and delete -f - read standard input; relative commands resolve from the current directory")
    func standardInput() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let yaml = fixtureFunction(name: "piped")
            // Run from the test's directory, where the fixture script is.
            let environment = ["GATEHOUSE_STATE_DIR": gatehouse.stateDirectory.path]
            let applied = try await RunningGatehouse.runCLI(
                ["apply", "-f", "-"], environment: environment, input: yaml, workingDirectory: gatehouse.directory)
            #expect(applied.stdout.contains("function default/piped created"), "\(applied.stderr)")
            #expect(try await gatehouse.request("piped").status == 200)
            let history = try await gatehouse.apiList("/api/v1/history?name=piped")
            #expect((history.first?["origin"] as? String)?.hasSuffix("/<stdin>:1") == true)
            let deleted = try await gatehouse.cli(["delete", "-f", "-"], input: yaml)
            #expect(deleted.stdout.contains("function default/piped deleted"), "\(deleted.stderr)")
            let invalid = try await gatehouse.cli(["apply", "-f", "-"], input: "kind: Function\n")
            #expect(invalid.status == 1)
            #expect(invalid.stderr.contains("<stdin>:1:1: apiVersion: missing required field"), "\(invalid.stderr)")
        }
    }

    @Test("logs --follow streams new lines as the function writes them, and ends when it is deleted")
    func logsFollow() async throws {
        try await withGatehouse(fixtureFunction(name: "chatty")) { gatehouse in
            _ = try await gatehouse.request("chatty", path: "/before")
            let output = gatehouse.directory.appendingPathComponent("follow.out")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            let follower = Process()
            follower.executableURL = GatehouseBinary.url
            follower.arguments = ["logs", "chatty", "--follow", "--state-dir", gatehouse.stateDirectory.path]
            follower.standardOutput = try FileHandle(forWritingTo: output)
            try follower.run()
            defer { if follower.isRunning { follower.terminate() } }
            let read = { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
            _ = try await eventually("the kept lines") { read().contains("GET /before") ? true : nil }
            _ = try await gatehouse.request("chatty", path: "/after-follow-began")
            _ = try await eventually("the new line") { read().contains("GET /after-follow-began") ? true : nil }
            #expect(follower.isRunning, "--follow keeps the stream open")
            #expect(try await gatehouse.cli(["delete", "function", "chatty"]).status == 0)
            _ = try await eventually("the follower to end when the function is deleted") { follower.isRunning ? nil : true }
        }
    }

    @Test("A function changed under load is warmed before the swap, serves the new spec after it; its old instance drains, not killed")
    func changeUnderLoad() async throws {
        try await withGatehouse(fixtureFunction(name: "fn", env: [("FIXTURE_CUSTOM", "v1")])) { gatehouse in
            let first = try await gatehouse.request("fn")
            #expect(first.env("K_REVISION") == "fn-00001")
            let oldPid = try #require(first.pid)

            async let slow = gatehouse.request("fn", path: "/sleep?ms=1500")
            try await gatehouse.waitForInFlight("fn")
            let applied = try await gatehouse.apply("v2.yaml", fixtureFunction(name: "fn", env: [("FIXTURE_CUSTOM", "v2")]))
            #expect(applied.stdout.contains("function default/fn configured"), "\(applied.stderr)")

            let after = try await gatehouse.request("fn")
            let line = try await gatehouse.accessLogLine(requestId: try #require(after.headers.first(name: "x-request-id")))
            #expect(line["cold_start"] as? Bool == false, "the new spec's instance was ready before traffic moved")
            #expect(after.env("FIXTURE_CUSTOM") == "v2")
            #expect(after.env("K_REVISION") == "fn-00002")
            #expect(after.pid != oldPid)
            let finished = try await slow
            #expect(finished.status == 200, "the request in flight at the swap finished on the old instance")
            #expect(finished.pid == oldPid)
            _ = try await eventually("the old instance to be stopped once idle") { processIsAlive(oldPid) ? nil : true }
            #expect(try await gatehouse.request("fn").env("FIXTURE_CUSTOM") == "v2")
        }
    }

    @Test("A change whose new instances fail to start is refused; the old spec keeps serving")
    func brokenChangeRefused() async throws {
        try await withGatehouse(fixtureFunction(name: "fn", env: [("FIXTURE_CUSTOM", "v1")])) { gatehouse in
            let pid = try #require(try await gatehouse.request("fn").pid)
            let history = try await gatehouse.apiList("/api/v1/history").count
            let broken = try await gatehouse.applyThroughAPI(
                file: "broken.yaml", fixtureFunction(name: "fn", env: [("FIXTURE_CUSTOM", "v2"), ("FIXTURE_FAIL_START", "1")]))
            #expect(broken.status == 400)
            #expect(broken.errorCode == "function_not_ready")
            let message = broken.json["message"] as? String ?? ""
            #expect(message.contains("default/fn") && message.contains("refusing to start"), "\(message)")
            let after = try await gatehouse.request("fn")
            #expect(after.pid == pid)
            #expect(after.env("FIXTURE_CUSTOM") == "v1")
            #expect(try await gatehouse.apiList("/api/v1/history").count == history)
            #expect(try await gatehouse.apiList("/api/v1/functions").first?["revision"] as? String == "fn-00001")
        }
    }

    @Test("Lowering maxInstances below the instances now ready still applies (the warm-up waits for what the new spec allows)")
    func shrinkUnderLoad() async throws {
        let config = { (max: Int) in fixtureFunction(name: "fn", scaling: "concurrency: 1, maxInstances: \(max)") }
        try await withGatehouse(config(3)) { gatehouse in
            // Two requests at once on concurrency 1: two instances become ready.
            async let first = gatehouse.request("fn", path: "/sleep?ms=400")
            async let second = gatehouse.request("fn", path: "/sleep?ms=400")
            #expect(try await [first.status, second.status] == [200, 200])
            #expect(try await gatehouse.apiList("/api/v1/functions").first?["instances"].map { ($0 as? [Any])?.count } == 2)
            // Before the fix the warm-up waited for two instances a one-instance spec cannot have, and
            // the apply failed with function_not_ready after the startup timeout.
            let applied = try await gatehouse.applyThroughAPI(file: "functions.yaml", config(1))
            #expect(applied.status == 200, "\(applied.body)")
            #expect(try await gatehouse.request("fn").status == 200)
        }
    }

    @Test("50 applies while steady requests run: no request fails")
    func appliesUnderLoad() async throws {
        let other = { (value: Int) in fixtureFunction(name: "other", env: [("FIXTURE_CUSTOM", "\(value)")]) }
        try await withGatehouse(fixtureFunction(name: "busy", env: [("FIXTURE_CUSTOM", "0")]) + "---\n" + other(0)) { gatehouse in
            #expect(try await gatehouse.request("busy").status == 200)
            let applying = ManagedFlag()
            let load = Task {
                try await withThrowingTaskGroup(of: [Int].self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            var statuses: [Int] = []
                            while !applying.isDone {
                                statuses.append(try await gatehouse.request("busy").status)
                                applying.countServed()
                            }
                            return statuses
                        }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
            }
            var last = 0
            for round in 1...50 {
                // Every apply changes `other`; every fifth also changes `busy`, the function under load.
                if round % 5 == 0 { last = round }
                let yaml = fixtureFunction(name: "busy", env: [("FIXTURE_CUSTOM", "\(last)")]) + "---\n" + other(round)
                let response = try await gatehouse.applyThroughAPI(file: "round-\(round).yaml", yaml)
                #expect(response.status == 200, "\(response.body)")
                // Requests run between applies: the next apply waits for one answered after this one.
                let served = applying.served
                _ = try await eventually("a request answered after apply \(round)") { applying.served > served ? true : nil }
            }
            applying.finish()
            let statuses = try await load.value
            #expect(statuses.count > 50)
            #expect(statuses.allSatisfy { $0 == 200 }, "statuses other than 200: \(statuses.filter { $0 != 200 })")
            #expect(try await gatehouse.request("busy").env("FIXTURE_CUSTOM") == "50")
            let history = try await gatehouse.apiList("/api/v1/history?kind=Function&name=busy")
            #expect(history.count == 11, "created by up -f, then configured every fifth round")
        }
    }

    @Test("Concurrent applies are serialized: each lands whole")
    func concurrentApplies() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await gatehouse.applyThroughAPI(file: "c\(index).yaml", fixtureFunction(name: "c\(index)")).status
                    }
                }
                for try await status in group { #expect(status == 200) }
            }
            #expect(try await gatehouse.storedNames() == ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "fn"])
            let batches = Set(try await gatehouse.apiList("/api/v1/history").compactMap { $0["batch"] as? Int })
            #expect(batches.count == 9, "one batch for up -f, one per apply")
        }
    }
}

/// A flag one task sets and others poll.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    private var answered = 0
    var isDone: Bool { lock.withLock { done } }
    func finish() { lock.withLock { done = true } }
    /// Requests answered so far by the load.
    var served: Int { lock.withLock { answered } }
    func countServed() { lock.withLock { answered += 1 } }
}
