import Foundation
import GatehouseTesting
import Testing

@Suite("Revisions: Knative traffic, tags, rollback, and Istio subsets", .serialized)
struct RevisionTests {
    static func hello(version: String, labels: String = "", traffic: String = "") -> String {
        var text = fixtureFunction(name: "hello", spec: traffic, env: [("FIXTURE_CUSTOM", version)])
        if !labels.isEmpty { text = text.replacingOccurrences(of: "  namespace: default\n", with: "  namespace: default\n  labels: {\(labels)}\n") }
        return text
    }

    /// How many of `count` requests each revision answered.
    func revisions(_ gatehouse: RunningGatehouse, host: String = "hello", count: Int, key: String? = nil) async throws -> [String: Int] {
        var seen: [String: Int] = [:]
        for _ in 0..<count {
            let response = try await gatehouse.request(host)
            let revision = key.map { response.json[$0] as? String } ?? response.env("K_REVISION")
            seen[revision ?? "none", default: 0] += 1
        }
        return seen
    }

    @Test("A spec change makes a revision; traffic splits by percent; a tag has its own URL; rollback stops the newer revision")
    func knativeTraffic() async throws {
        try await withGatehouse(Self.hello(version: "1")) { gatehouse in
            #expect(try await revisions(gatehouse, count: 1) == ["hello-00001": 1])
            #expect(try await gatehouse.apply("v2.yaml", Self.hello(version: "2")).status == 0)
            let second = try await gatehouse.request("hello")
            #expect(second.env("K_REVISION") == "hello-00002" && second.env("FIXTURE_CUSTOM") == "2")
            let secondPid = try #require(second.json["pid"] as? Int)

            // 30 % back on revision 1 (tagged), 70 % on the latest: a traffic change makes no revision.
            let split = Self.hello(version: "2", traffic: """
                traffic:
                - {revisionName: hello-00001, percent: 30, tag: old}
                - {latestRevision: true, percent: 70}
                """)
            let applied = try await gatehouse.apply("split.yaml", split)
            #expect(applied.status == 0, "\(applied.stderr)")
            let seen = try await revisions(gatehouse, count: 300)
            #expect(Set(seen.keys) == ["hello-00001", "hello-00002"])
            #expect(abs(Double(seen["hello-00001"] ?? 0) / 300 - 0.30) < 0.08, "\(seen)")
            let tagged = try await revisions(gatehouse, host: "old-hello", count: 20)
            #expect(tagged == ["hello-00001": 20], "the tag's URL reaches its revision only")
            #expect(try await gatehouse.request("old-hello").env("FIXTURE_CUSTOM") == "1", "revision 1 runs its own spec")

            let listed = try await gatehouse.cli(["get", "revisions", "hello"])
            #expect(listed.status == 0, "\(listed.stderr)")
            let lines = listed.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.hasPrefix("hello-00002 (latest)") && $0.contains("70%") })
            #expect(lines.contains { $0.hasPrefix("hello-00001") && $0.contains("30%") && $0.contains("old") })
            #expect(lines.contains { $0.contains("tag old: http://old-hello.default.localhost:") })
            let described = try await gatehouse.cli(["describe", "function", "hello"])
            #expect(described.stdout.contains("Traffic:         hello-00001 30% (tag old), hello-00002 70%"), "\(described.stdout)")

            // Rollback: all traffic to revision 1. Revision 2's instance is stopped.
            let rollback = Self.hello(version: "2", traffic: "traffic: [{revisionName: hello-00001, percent: 100}]")
            #expect(try await gatehouse.apply("rollback.yaml", rollback).status == 0)
            #expect(try await revisions(gatehouse, count: 20) == ["hello-00001": 20])
            _ = try await eventually("revision 2's instance stops") { processIsAlive(Int32(secondPid)) ? nil : true }
            let status = try await gatehouse.apiList("/api/v1/functions/default/hello/revisions")
            #expect(status.compactMap { $0["name"] as? String } == ["hello-00001", "hello-00002"])
            #expect(status.map { $0["serving"] as? Bool } == [true, false])
            #expect(status.map { $0["percent"] as? Int } == [100, 0])

            // A revision that does not exist: refused at its line, nothing changed.
            let wrong = try await gatehouse.apply("wrong.yaml", Self.hello(version: "2", traffic: "traffic: [{revisionName: hello-00009, percent: 100}]"))
            #expect(wrong.status != 0)
            #expect(wrong.stderr.contains("wrong.yaml:") && wrong.stderr.contains("has no revision \"hello-00009\""), "\(wrong.stderr)")
            #expect(try await revisions(gatehouse, count: 5) == ["hello-00001": 5])

            // Revisions and traffic survive a restart (the store keeps them).
            _ = try await gatehouse.stop()
            let restarted = try await gatehouse.restart(applyingConfig: false)
            let afterRestart = try? await revisions(restarted, count: 5)
            _ = try await restarted.stop()
            #expect(afterRestart == ["hello-00001": 5])
        }
    }

    @Test("A new revision that cannot start is refused while the running one serves, even as a 10 % canary")
    func brokenCanary() async throws {
        try await withGatehouse(Self.hello(version: "1")) { gatehouse in
            #expect(try await gatehouse.request("hello").status == 200, "one ready instance")
            let broken = fixtureFunction(
                name: "hello", spec: "traffic:\n- {revisionName: hello-00001, percent: 90}\n- {latestRevision: true, percent: 10}",
                env: [("FIXTURE_CUSTOM", "2"), ("FIXTURE_FAIL_START", "1")])
            let applied = try await gatehouse.apply("broken.yaml", broken)
            #expect(applied.status != 0)
            #expect(applied.stderr.contains("did not become ready") && applied.stderr.contains("default/hello-00002"), "\(applied.stderr)")
            #expect(try await revisions(gatehouse, count: 20) == ["hello-00001": 20])
            let listed = try await gatehouse.apiList("/api/v1/functions/default/hello/revisions")
            #expect(listed.compactMap { $0["name"] as? String } == ["hello-00001"], "nothing was stored")
        }
    }

    @Test("The revisions example: the canary gets its share and its URL, and rollback.yaml sends everything back")
    func example() async throws {
        let examples = ExplainTests.examples.path
        let hello = try String(contentsOfFile: "\(examples)/quickstart/hello.yaml", encoding: .utf8)
            .replacingOccurrences(of: "\"hello.py\"", with: "\"\(examples)/quickstart/hello.py\"")
        try await withGatehouse(hello) { gatehouse in
            let canary = try await gatehouse.cli(["apply", "-f", "\(examples)/revisions/canary.yaml"])
            #expect(canary.status == 0, "\(canary.stderr)")
            let tagged = try await gatehouse.request("canary-hello")
            #expect(tagged.json["revision"] as? String == "hello-00002")
            #expect(tagged.json["message"] as? String == "hello again from hello")
            let seen = try await revisions(gatehouse, count: 100, key: "revision")
            #expect((seen["hello-00001"] ?? 0) > (seen["hello-00002"] ?? 0), "90/10: \(seen)")
            let rollback = try await gatehouse.cli(["apply", "-f", "\(examples)/revisions/rollback.yaml"])
            #expect(rollback.status == 0, "\(rollback.stderr)")
            #expect(rollback.stdout.contains("function default/hello configured"), "\(rollback.stdout)")
            let listed = try await gatehouse.apiList("/api/v1/functions/default/hello/revisions")
            #expect(listed.compactMap { $0["name"] as? String } == ["hello-00001", "hello-00002"], "a traffic change makes no revision")
            #expect(try await revisions(gatehouse, count: 20, key: "revision") == ["hello-00001": 20])
            #expect(try await gatehouse.request("canary-hello").status == 404, "the tag went with the traffic entry")
        }
    }

    @Test("DestinationRule subsets select revisions by label; VirtualService weights split between them")
    func istioSubsets() async throws {
        try await withGatehouse(Self.hello(version: "1", labels: "version: v1")) { gatehouse in
            #expect(try await gatehouse.apply("v2.yaml", Self.hello(version: "2", labels: "version: v2")).status == 0)
            let mesh = """
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: hello, namespace: default}
                spec:
                  host: hello
                  subsets:
                  - {name: v1, labels: {version: v1}}
                  - {name: v2, labels: {serving.knative.dev/revision: hello-00002}}
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: hello, namespace: default}
                spec:
                  hosts: [hello]
                  gateways: [public]
                  http:
                  - route:
                    - {destination: {host: hello, subset: v1}, weight: 25}
                    - {destination: {host: hello, subset: v2}, weight: 75}

                """
            let applied = try await gatehouse.apply("subsets.yaml", mesh)
            #expect(applied.status == 0, "\(applied.stderr)")
            let seen = try await revisions(gatehouse, count: 300)
            #expect(Set(seen.keys) == ["hello-00001", "hello-00002"])
            #expect(abs(Double(seen["hello-00001"] ?? 0) / 300 - 0.25) < 0.08, "\(seen)")
            let status = try await gatehouse.apiList("/api/v1/functions/default/hello/revisions")
            #expect(status.map { $0["subsets"] as? [String] } == [["v1"], ["v2"]])
            #expect(status.map { $0["serving"] as? Bool } == [true, true])
        }
    }
}
