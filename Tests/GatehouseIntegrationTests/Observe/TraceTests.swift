import Foundation
import GatehouseTesting
import Testing

@Suite("Traces: context passed to functions, every hop kept, `gatehouse trace` shows where a request died", .serialized)
struct TraceTests {
    /// `frontend` calls `billing` through the mesh listener; only `checkout` may call billing.
    static let twoHops = fixtureFunction(name: "frontend", spec: "serviceAccount: frontend") + "---\n"
        + fixtureFunction(name: "billing").replacingOccurrences(of: "  name: billing\n", with: "  name: billing\n  labels: {app: billing}\n") + """
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: only-checkout, namespace: default}
        spec:
          selector: {matchLabels: {app: billing}}
          rules:
          - from: [{source: {principals: ["cluster.local/ns/default/sa/checkout"]}}]

        """

    @Test("The function gets a traceparent in the caller's trace, naming a span of Gatehouse's as its parent")
    func propagated() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            let seen = try await gatehouse.request("fn", headers: [("traceparent", caller), ("tracestate", "congo=t61rcWkgMzE")])
            let headers = try #require(seen.json["headers"] as? [String: String])
            let parent = try #require(headers["traceparent"])
            let fields = parent.split(separator: "-")
            #expect(fields.count == 4 && fields[1] == "4bf92f3577b34da6a3ce929d0e0e4736", "same trace: \(parent)")
            #expect(fields[2] != "00f067aa0ba902b7", "the function's parent is Gatehouse's span, not the caller's")
            #expect(fields[3] == "01", "the caller's sampling decision is kept")
            #expect(headers["tracestate"] == "congo=t61rcWkgMzE")

            let fresh = try #require(try await gatehouse.request("fn").json["headers"] as? [String: String])
            let started = try #require(fresh["traceparent"])
            #expect(started.hasPrefix("00-") && started.count == 55, "a new trace is started: \(started)")

            let b3 = try #require(try await gatehouse.request("fn", headers: [
                ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"), ("x-b3-spanid", "e457b5a2e4d86bd1"), ("x-b3-sampled", "1"),
            ]).json["headers"] as? [String: String])
            #expect(b3["traceparent"]?.contains("80f198ee56343ba864fe8b2a57d3eff7") == true)
            #expect(b3["x-b3-traceid"] == "80f198ee56343ba864fe8b2a57d3eff7", "a B3 caller's function gets B3 too")
            #expect(b3["x-b3-spanid"] != "e457b5a2e4d86bd1" && b3["x-b3-parentspanid"] != nil)
        }
    }

    @Test("A request refused one hop deep: `gatehouse trace` shows both hops in one trace, and names the hop and the reason")
    func twoHopsDeep() async throws {
        try await withGatehouse(Self.twoHops) { gatehouse in
            let call = try await gatehouse.request("frontend", path: "/call?host=billing.default.\(gatehouse.domain)&path=/charge")
            #expect(call.json["status"] as? Int == 403, "\(call.body)")
            let requestId = try #require(call.headers.first(name: "x-request-id"))

            let shown = try await gatehouse.cli(["trace", requestId])
            #expect(shown.status == 0, "\(shown.stderr)")
            let lines = shown.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.contains("2 requests through Gatehouse") == true, "\(shown.stdout)")
            let outer = try #require(lines.firstIndex { $0.hasPrefix("GET frontend.default.") })
            let attempt = try #require(lines.firstIndex { $0.contains("upstream attempt 1") })
            let inner = try #require(lines.firstIndex { $0.contains("GET billing.default.") }, "\(shown.stdout)")
            #expect(outer < attempt && attempt < inner, "the mesh hop sits under the attempt that made it:\n\(shown.stdout)")
            #expect(lines[inner].contains("→ 403") && lines[inner].contains("mesh"), "\(lines[inner])")
            #expect(lines[inner].contains("only-checkout") || lines[inner].contains("RBAC"), "the reason is named: \(lines[inner])")
            #expect(lines[inner].contains("/charge"))

            let json = try await gatehouse.cli(["trace", requestId, "-o", "json"])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let spans = try #require(report["spans"] as? [[String: Any]])
            #expect(Set(spans.compactMap { $0["traceId"] as? String }).count == 1, "one trace across both hops")
            #expect(spans.filter { $0["kind"] as? String == "server" }.count == 2)

            let failed = try await gatehouse.cli(["trace", "--errors", "-o", "json"])
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(failed.stdout.utf8)) as? [[String: Any]])
            #expect(listed.contains { ($0["host"] as? String)?.hasPrefix("billing.default.") == true && $0["status"] as? Int == 403 })
        }
    }

    @Test("An unknown id is a clear 'not kept' error; a list needs --slow or --errors")
    func unknown() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let missing = try await gatehouse.cli(["trace", "0123456789abcdef0123456789abcdef"])
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("no kept request"), "\(missing.stderr)")
            let bare = try await gatehouse.cli(["trace"])
            #expect(bare.status != 0 && bare.stderr.contains("--slow"), "\(bare.stderr)")
        }
    }
}
