import Foundation
import GatehouseTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("What an apply refuses, and what survives", .serialized)
struct SafetyTests {
    @Test("The admin API needs the token: a wrong or missing one gets 401, changes nothing and is audited")
    func tokenRequired() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let mode = try FileManager.default.attributesOfItem(
                atPath: gatehouse.stateDirectory.appendingPathComponent("admin.token").path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let wrong = "not-the-token-0123456789"
            let refused = try await gatehouse.applyThroughAPI(file: "intruder.yaml", fixtureFunction(name: "intruder"), token: wrong)
            #expect(refused.status == 401)
            #expect(refused.headers["www-authenticate"].first?.hasPrefix("Bearer") == true)
            #expect(refused.errorCode == "unauthorized")
            let anonymous = try await gatehouse.api("/api/v1/resources", token: "")
            #expect(anonymous.status == 401)
            let delete = try await gatehouse.api(
                "/api/v1/delete", method: .POST, json: #"{"resources":[{"kind":"Function","namespace":"default","name":"fn"}]}"#,
                token: wrong)
            #expect(delete.status == 401)

            #expect(try await gatehouse.storedNames() == ["fn"])
            #expect(try await gatehouse.request("intruder").status == 404)
            #expect(try await gatehouse.request("fn").status == 200)
            let log = gatehouse.stderr
            #expect(log.contains("admin API call refused") && log.contains("wrong token") && log.contains("no bearer token"))
            #expect(!log.contains(wrong), "the offered token is never logged")
            #expect(!log.contains(gatehouse.adminToken), "the real token is never logged")

            // Metrics and health stay open.
            #expect(try await gatehouse.api("/metrics", token: "").status == 200)
            #expect(try await gatehouse.api("/healthz", token: "").status == 200)

            let badTokenFile = try gatehouse.writeFile("bad.token", wrong)
            let cli = try await gatehouse.cli(["get", "functions", "--token-file", badTokenFile])
            #expect(cli.status == 1)
            #expect(cli.stderr.contains("Authorization: Bearer"))
        }
    }

    @Test("An invalid apply leaves the running config untouched and names file, line and field")
    func invalidApply() async throws {
        let mesh = """
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata:
              name: mesh
            spec: {}

            """
        try await withGatehouse(fixtureFunction(name: "fn", env: [("FIXTURE_CUSTOM", "v1")]) + "---\n" + mesh) { gatehouse in
            let pid = try #require(try await gatehouse.request("fn").pid)
            let historyBefore = try await gatehouse.apiList("/api/v1/history").count

            // One good change and one bad document: neither lands.
            let broken = fixtureFunction(name: "fn", env: [("FIXTURE_CUSTOM", "v2")]) + "---\n"
                + fixtureFunction(name: "bad", scaling: "maxInstances: 0")
            let response = try await gatehouse.applyThroughAPI(file: "broken.yaml", broken)
            #expect(response.status == 400)
            #expect(response.errorCode == "invalid_config")
            let diagnostic = try #require((response.json["diagnostics"] as? [[String: Any]])?.first)
            #expect((diagnostic["file"] as? String)?.hasSuffix("/broken.yaml") == true)
            #expect(diagnostic["line"] as? Int == 20)
            #expect(diagnostic["field"] as? String == "spec.scaling.maxInstances")

            // A problem only the whole reveals: a second Mesh next to the stored one.
            let secondMesh = mesh.replacingOccurrences(of: "name: mesh", with: "name: other")
            let conflict = try await gatehouse.applyThroughAPI(file: "mesh2.yaml", secondMesh)
            #expect(conflict.status == 400)
            let message = conflict.json["message"] as? String ?? ""
            #expect(message.contains("mesh2.yaml:1:1") && message.contains("a second Mesh document") && message.contains("functions.yaml"), "\(message)")

            // The CLI checks locally first and says so.
            let cli = try await gatehouse.apply("cli-broken.yaml", broken)
            #expect(cli.status == 1)
            #expect(cli.stderr.contains("cli-broken.yaml:20:") && cli.stderr.contains("spec.scaling.maxInstances"), "\(cli.stderr)")

            let after = try await gatehouse.request("fn")
            #expect(after.env("FIXTURE_CUSTOM") == "v1")
            #expect(after.pid == pid)
            #expect(try await gatehouse.storedNames() == ["fn"])
            #expect(try await gatehouse.apiList("/api/v1/history").count == historyBefore)
        }
    }

    @Test("An apply past the limits is refused with 413 and changes nothing")
    func tooLarge() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let huge = "# " + String(repeating: "x", count: 9 << 20) + "\n" + fixtureFunction(name: "huge")
            let big = try await gatehouse.applyThroughAPI(file: "huge.yaml", huge)
            #expect(big.status == 413)
            #expect(big.errorCode == "too_large")

            let policies = (0...1000).map { index in
                "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\(index)\nspec: {}\n"
            }.joined(separator: "---\n")
            let many = try await gatehouse.applyThroughAPI(file: "many.yaml", policies)
            #expect(many.status == 413)
            #expect((many.json["message"] as? String)?.contains("at most 1000") == true)
            #expect(try await gatehouse.storedNames(kind: "AuthorizationPolicy").isEmpty)
            #expect(try await gatehouse.storedNames() == ["fn"])
        }
    }

    @Test("A locked database refuses the apply with a clear error and nothing changes")
    func lockedDatabase() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let database = gatehouse.stateDirectory.appendingPathComponent("gatehouse.db").path
            let locker = Process()
            locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            let release = gatehouse.directory.appendingPathComponent("release-lock").path
            locker.arguments = ["python3", "-c", """
                import os, sqlite3, sys, time
                db = sqlite3.connect(sys.argv[1], isolation_level=None)
                db.execute("BEGIN EXCLUSIVE")
                print("locked", flush=True)
                deadline = time.time() + 60
                while not os.path.exists(sys.argv[2]) and time.time() < deadline:
                    time.sleep(0.02)
                """, database, release]
            let pipe = Pipe()
            locker.standardOutput = pipe
            try locker.run()
            defer { if locker.isRunning { locker.terminate() } }
            _ = pipe.fileHandleForReading.availableData  // "locked"

            let response = try await gatehouse.applyThroughAPI(file: "new.yaml", fixtureFunction(name: "new"))
            #expect(response.status == 503)
            #expect(response.errorCode == "store_unavailable")
            #expect((response.json["message"] as? String)?.contains("locked") == true, "\(response.body)")
            #expect(try await gatehouse.request("new").status == 404)

            _ = FileManager.default.createFile(atPath: release, contents: nil)
            _ = try await eventually("the lock holder to exit") { locker.isRunning ? nil : true }
            #expect(try await gatehouse.storedNames() == ["fn"])
            #expect(try await gatehouse.applyThroughAPI(file: "new.yaml", fixtureFunction(name: "new")).status == 200)
            #expect(try await gatehouse.request("new").status == 200)
        }
    }
}

@Suite("What was applied survives a restart", .serialized)
struct PersistenceTests {
    @Test("A restart without -f comes back with exactly what was applied; the history lists every change")
    func restartKeepsAppliedConfig() async throws {
        let first = try await RunningGatehouse.start(config: fixtureFunction(name: "fn"))
        defer { first.removeDirectory() }
        #expect(try await first.apply("second.yaml", fixtureFunction(name: "second", env: [("FIXTURE_CUSTOM", "kept")])).status == 0)
        #expect(try await first.apply("second.yaml", fixtureFunction(name: "second", env: [("FIXTURE_CUSTOM", "kept")])).stdout
            .contains("unchanged"))
        #expect(try await first.apply("policy.yaml", """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata:
              name: no-private
              namespace: default
            spec:
              action: DENY
              rules: [{to: [{operation: {paths: ["/private"]}}]}]
            """).status == 0)
        #expect(try await first.cli(["delete", "function", "fn"]).status == 0)
        let expected = try await first.api("/api/v1/resources").body
        try await first.stop()

        let second = try await first.restart(applyingConfig: false)
        #expect(try await second.api("/api/v1/resources").body == expected)
        #expect(try await second.request("second").env("FIXTURE_CUSTOM") == "kept")
        #expect(try await second.request("second", path: "/private").status == 403, "the stored policy is enforced again")
        #expect(try await second.request("fn").status == 404)

        let history = try await second.cli(["history", "-o", "json"])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]])
        let summary = entries.map { "\($0["operation"] as? String ?? "") \($0["kind"] as? String ?? "") \($0["name"] as? String ?? "")" }
        #expect(summary == [
            "deleted Function fn", "created AuthorizationPolicy no-private", "created Function second", "created Function fn",
        ])
        #expect(entries.allSatisfy { ($0["actor"] as? String)?.isEmpty == false })
        #expect((entries[2]["origin"] as? String)?.hasSuffix("second.yaml:1") == true)
        #expect((entries[2]["diff"] as? String)?.contains("+       - {name: FIXTURE_CUSTOM, value: \"kept\"}") == true)
        let one = try await second.cli(["history", "function", "second"])
        #expect(one.stdout.split(separator: "\n").count == 2, "a header and one entry: \(one.stdout)")
        try await second.stop()
    }

    @Test("up -f applies its files over what is stored")
    func upAppliesOnTop() async throws {
        let first = try await RunningGatehouse.start(config: fixtureFunction(name: "fn", env: [("FIXTURE_CUSTOM", "v1")]))
        defer { first.removeDirectory() }
        #expect(try await first.apply("extra.yaml", fixtureFunction(name: "extra")).status == 0)
        try await first.stop()
        try fixtureFunction(name: "fn", env: [("FIXTURE_CUSTOM", "v2")])
            .write(to: first.directory.appendingPathComponent("functions.yaml"), atomically: true, encoding: .utf8)
        let second = try await first.restart()
        #expect(try await second.request("fn").env("FIXTURE_CUSTOM") == "v2")
        #expect(try await second.request("fn").env("K_REVISION") == "fn-00002")
        #expect(try await second.request("extra").status == 200)
        try await second.stop()
    }

    @Test("SIGHUP re-reads the -f files; an invalid edit is refused and the running config kept")
    func reloadOnHangup() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let file = gatehouse.directory.appendingPathComponent("functions.yaml")
            try (fixtureFunction(name: "fn") + "---\n" + fixtureFunction(name: "added"))
                .write(to: file, atomically: true, encoding: .utf8)
            gatehouse.signal(SIGHUP)
            _ = try await eventually("the added function") { try await gatehouse.request("added").status == 200 ? true : nil }

            try "apiVersion: gatehouse.dev/v1\nkind: Function\nmetadata: {name: fn}\nspec: {}\n"
                .write(to: file, atomically: true, encoding: .utf8)
            gatehouse.signal(SIGHUP)
            _ = try await eventually("the refusal in the log") {
                gatehouse.stderr.contains("SIGHUP: the running configuration was kept") ? true : nil
            }
            #expect(gatehouse.stderr.contains("functions.yaml:4:"))
            #expect(try await gatehouse.request("fn").status == 200)
            #expect(try await gatehouse.request("added").status == 200)
        }
    }

    @Test("A corrupt database stops up with a clear error, and the file is left as it was")
    func corruptDatabase() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let garbage = Data(String(repeating: "not a database ", count: 512).utf8)
        try garbage.write(to: state.appendingPathComponent("gatehouse.db"))
        do {
            _ = try await RunningGatehouse.start(config: fixtureFunction(name: "fn"), directory: directory)
            Issue.record("expected gatehouse up to refuse a corrupt database")
        } catch let failure as RunningGatehouse.StartFailure {
            #expect(failure.description.contains("exited with status 1"))
            #expect(failure.description.contains("gatehouse.db is not a readable Gatehouse database"), "\(failure.description)")
        }
        #expect(try Data(contentsOf: state.appendingPathComponent("gatehouse.db")) == garbage)
    }
}
