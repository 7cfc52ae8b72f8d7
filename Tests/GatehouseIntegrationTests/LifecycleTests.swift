import Foundation
import GatehouseTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Starting and stopping Gatehouse", .serialized)
struct LifecycleTests {
    @Test("SIGTERM drains and stops every function instance; no child process is left")
    func shutdownLeavesNoChild() async throws {
        let gatehouse = try await RunningGatehouse.start(config: fixtureFunction(name: "child", scaling: "minInstances: 1"))
        defer { gatehouse.removeDirectory() }
        let pid = try #require(try await gatehouse.request("child").pid)
        #expect(processIsAlive(pid))
        let status = try await gatehouse.stop()
        #expect(status == 0)
        #expect(!processIsAlive(pid))
        #expect(!FileManager.default.fileExists(atPath: gatehouse.stateDirectory.appendingPathComponent("endpoints.json").path))
    }

    @Test("The state directory and its instance records are readable by their owner only")
    func statePermissions() async throws {
        try await withGatehouse(fixtureFunction(name: "private", scaling: "minInstances: 1")) { gatehouse in
            _ = try await gatehouse.request("private")
            let manager = FileManager.default
            let mode = { (path: String) in (try? manager.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1 }
            // As root, functions under their own users reach their identity folder by name: traverse-only.
            #expect(mode(gatehouse.stateDirectory.path) == (geteuid() == 0 ? 0o711 : 0o700))
            for file in ["gatehouse.db", "admin.token", "endpoints.json"] {
                #expect(mode(gatehouse.stateDirectory.appendingPathComponent(file).path) == 0o600, "\(file)")
            }
            let instances = gatehouse.stateDirectory.appendingPathComponent("instances")
            let records = try manager.contentsOfDirectory(atPath: instances.path)
            #expect(!records.isEmpty)
            for record in records { #expect(mode(instances.appendingPathComponent(record).path) == 0o600, "\(record)") }
            #expect(mode(gatehouse.stateDirectory.appendingPathComponent("lock").path) == 0o600)
        }
    }

    @Test("A request in flight at SIGTERM still gets its response")
    func drainInFlight() async throws {
        // The request is held until after the SIGTERM, well within the drain grace (a request that
        // slept as long as the kit's 3 s grace was cut on a loaded machine: a race, not a drain).
        let gatehouse = try await RunningGatehouse.start(config: fixtureFunction(name: "drain"), arguments: ["--drain-seconds", "60"])
        defer { gatehouse.removeDirectory() }
        #expect(try await gatehouse.request("drain").status == 200)
        async let slow = gatehouse.request("drain", path: gatehouse.held("drain"))
        try await gatehouse.waitForInFlight("drain")
        kill(gatehouse.process.processIdentifier, SIGTERM)
        // Draining: new connections are refused, the one in flight stays.
        _ = try await eventually("the listener to stop accepting") {
            guard let probe = try? RawConnection(url: gatehouse.ingress, timeoutSeconds: 2) else { return true }
            probe.close()
            return nil
        }
        gatehouse.release("drain")
        do {
            #expect(try await slow.status == 200)
        } catch {
            // What Gatehouse did with it: its log says when it drained and what it closed.
            _ = try? await gatehouse.stop()
            print("--- gatehouse stderr ---\n\(gatehouse.stderr)")
            throw error
        }
        // Drained, it exits by itself: the test's one SIGTERM is the only signal.
        #expect(try await gatehouse.exitStatus() == 0, "\(gatehouse.stderr.suffix(2000))")
    }

    @Test("Signals that keep coming while Gatehouse stops (a supervisor repeating SIGTERM) end it cleanly, exit status 0")
    func repeatedSignals() async throws {
        let gatehouse = try await RunningGatehouse.start(config: fixtureFunction(name: "again"))
        defer { gatehouse.removeDirectory() }
        #expect(try await gatehouse.request("again").status == 200)
        let pid = gatehouse.process.processIdentifier
        // Until it is gone: before, during and after the service group's stop, and while it
        // releases what it holds.
        while gatehouse.process.isRunning {
            kill(pid, SIGTERM)
            try await Task.sleep(for: .milliseconds(2))
        }
        // A crash's backtrace fills the end of stderr: its cause is the line that says "Fatal error".
        let fatal = gatehouse.stderr.split(separator: "\n").filter { $0.contains("Fatal error") }
        #expect(try await gatehouse.exitStatus() == 0, "\(fatal) \(gatehouse.stderr.suffix(2000))")
    }

    @Test("up says once, in a few lines, where each listener is, the state, the functions' URLs and what is not enforced")
    func startupSummary() async throws {
        try await withGatehouse(fixtureFunction(name: "hello")) { gatehouse in
            let text = try await eventually("the summary") { gatehouse.stderr.contains("gatehouse is up\n") ? gatehouse.stderr : nil }
            let summary = text.components(separatedBy: "gatehouse is up\n")[1]
            #expect(summary.contains("  ingress       \(gatehouse.ingress)\n"), "\(summary)")
            #expect(summary.contains("  mesh          \(gatehouse.mesh)  (mutual TLS"), "\(summary)")
            #expect(summary.contains("  admin         \(gatehouse.admin)  (token in \(gatehouse.stateDirectory.path)/admin.token)"), "\(summary)")
            #expect(summary.contains("  state         \(gatehouse.stateDirectory.path)\n"))
            let port = try #require(URL(string: gatehouse.ingress)?.port)
            #expect(summary.contains("  functions     default/hello  http://hello.default.\(gatehouse.domain):\(port)/"), "\(summary)")
            #expect(text.components(separatedBy: "gatehouse is up").count == 2, "said once")
        }
    }

    @Test("--log-format json: every line Gatehouse logs is one JSON object, the start included")
    func jsonLogs() async throws {
        try await withGatehouse(fixtureFunction(name: "hello"), arguments: ["--log-format", "json"]) { gatehouse in
            let lines = try await eventually("the start to be logged") {
                let lines = gatehouse.stderr.split(separator: "\n")
                return lines.contains { $0.contains("\"gatehouse is up\"") } ? lines : nil
            }
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["level"] is String && object?["message"] is String && object?["time"] is String, "\(line)")
            }
            let up = try #require(lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .first { $0["message"] as? String == "gatehouse is up" })
            #expect((up["metadata"] as? [String: String])?["ingress"] == gatehouse.ingress)
            #expect((up["time"] as? String)?.hasSuffix("Z") == true)
        }
    }

    @Test("A second Ctrl-C stops at once: the request in flight is cut instead of drained, and no instance is left")
    func secondInterrupt() async throws {
        // A drain long enough that only the second signal can end it before the request does.
        let gatehouse = try await RunningGatehouse.start(config: fixtureFunction(name: "cut"), arguments: ["--drain-seconds", "120"])
        defer { gatehouse.removeDirectory() }
        #expect(try await gatehouse.request("cut").status == 200)
        let instance = try #require(try await gatehouse.request("cut").pid)
        // Well within the client's 60 s timeout: drained, it would be answered 200.
        let slow = Task { try await gatehouse.request("cut", path: "/sleep?ms=30000") }
        try await gatehouse.waitForInFlight("cut")
        gatehouse.signal(SIGINT)
        // Two signals sent at once are one to the kernel: the second follows once the first is seen
        // (the drain has begun when the admin listener says not ready).
        _ = try await eventually("the drain to begin") {
            try await RunningGatehouse.send(url: gatehouse.admin + "/readyz", host: nil, method: .GET, headers: [], body: nil).status == 503 ? true : nil
        }
        gatehouse.signal(SIGINT)
        let outcome = await slow.result
        // Cut: the client saw the connection end, or an error status — never the function's 200.
        switch outcome {
        case .success(let response): #expect(response.status != 200, "the request was drained, not cut")
        case .failure: break
        }
        // It exits by itself: a SIGTERM sent now could land after it restored the default
        // handlers on its way out, and end it by the signal instead of its own exit.
        #expect(try await gatehouse.exitStatus() == 0)
        #expect(gatehouse.stderr.contains("second signal: stopping now"))
        #expect(!processIsAlive(instance), "the function instance was stopped too")
    }

    @Test("After Gatehouse is killed with SIGKILL, the next start on the same state directory ends its orphans")
    func restartReapsOrphans() async throws {
        let first = try await RunningGatehouse.start(config: fixtureFunction(name: "orphan"))
        let pid = try #require(try await first.request("orphan").pid)
        try await first.kill()
        #expect(processIsAlive(pid), "SIGKILL gives Gatehouse no chance to stop its instances")
        let second = try await first.restart()
        defer { second.removeDirectory() }
        _ = try await eventually("the orphan to be reaped") { processIsAlive(pid) ? nil : true }
        #expect(second.stderr.contains("ended processes left by an earlier run"))
        #expect(try await second.request("orphan").status == 200)
        try await second.stop()
    }

    @Test("A second `up` on the same state directory refuses with a clear message")
    func stateDirectoryIsLocked() async throws {
        try await withGatehouse(fixtureFunction(name: "only")) { gatehouse in
            let result = try await runGatehouse([
                "up", "-f", gatehouse.directory.appendingPathComponent("functions.yaml").path,
                "--state-dir", gatehouse.stateDirectory.path, "--ingress", "127.0.0.1:0", "--admin", "127.0.0.1:0",
            ])
            #expect(result.status != 0)
            #expect(result.stderr.contains("another gatehouse (pid \(gatehouse.process.processIdentifier)) is running"))
        }
    }
}

/// Runs the `gatehouse` binary to completion (for commands that exit by themselves).
func runGatehouse(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (status: Int32, stdout: String, stderr: String) {
    try await RunningGatehouse.runCLI(arguments, timeout: timeout)
}
