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

    @Test("Tracing off (no traces kept, no Telemetry exporting): trace headers pass through untouched, none are added")
    func off() async throws {
        try await withGatehouse(fixtureFunction(name: "fn"), arguments: ["--kept-traces", "0"]) { gatehouse in
            let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            let seen = try #require(try await gatehouse.request("fn", headers: [("traceparent", caller)]).json["headers"] as? [String: String])
            #expect(seen["traceparent"] == caller, "passed on as sent, as a proxy without a tracer does")
            let fresh = try #require(try await gatehouse.request("fn").json["headers"] as? [String: String])
            #expect(fresh["traceparent"] == nil)
            let asked = try await gatehouse.cli(["trace", "--errors"])
            #expect(asked.status != 0 && asked.stderr.contains("--kept-traces 0"), "\(asked.stderr)")
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

@Suite("Trace export: spans to a real OTLP/HTTP collector, decoded with opentelemetry-proto", .serialized)
struct TraceExportTests {
    /// The Mesh's `opentelemetry` provider pointing at `collector`, and a mesh-wide Telemetry.
    static func exporting(to collector: OTLPCollector, path: String = "/v1/traces", sampling: Double = 100) -> String {
        """
        apiVersion: gatehouse.dev/v1
        kind: Mesh
        metadata: {name: mesh}
        spec:
          extensionProviders:
          - name: otel
            opentelemetry:
              service: 127.0.0.1
              port: \(collector.port)
              http: {path: \(path), timeout: 5s}
        ---
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: mesh-default, namespace: istio-system}
        spec:
          tracing:
          - providers: [{name: otel}]
            randomSamplingPercentage: \(sampling)
            customTags:
              team: {literal: {value: payments}}
              tenant: {header: {name: x-tenant, defaultValue: none}}

        """
    }

    @Test("A function → function call through the mesh is one trace: server spans, attempts, the cold start, a refusal with its reason")
    func exported() async throws {
        let collector = try await OTLPCollector.start()
        defer { collector.stop() }
        let config = TraceTests.twoHops + "---\n" + Self.exporting(to: collector)
        try await withGatehouse(config) { gatehouse in
            let call = try await gatehouse.request(
                "frontend", path: "/call?host=billing.default.\(gatehouse.domain)&path=/charge", headers: [("x-tenant", "acme")])
            #expect(call.json["status"] as? Int == 403, "\(call.body)")
            let spans = try await collector.spans(until: { spans in spans.filter { $0.kind == "SERVER" }.count >= 2 })
            let servers = spans.filter { $0.kind == "SERVER" }
            #expect(servers.count == 2, "\(spans.map(\.name))")
            #expect(Set(spans.map(\.traceId)).count == 1, "one trace across both hops")
            let outer = try #require(servers.first { $0.string("gatehouse.listener") == "ingress" })
            let inner = try #require(servers.first { $0.string("gatehouse.listener") == "mesh" })
            #expect(outer.service == "frontend.default" && inner.service == "billing.default")
            let attempt = try #require(spans.first { $0.name == "upstream attempt 1" && $0.parentSpanId == outer.spanId })
            #expect(inner.parentSpanId == attempt.spanId, "the mesh hop's parent is the attempt that called frontend")
            #expect(spans.contains { $0.name == "cold_start" && $0.parentSpanId == outer.spanId }, "frontend started for this request")
            #expect(inner.int("http.response.status_code") == 403)
            #expect(inner.string("gatehouse.reason")?.isEmpty == false, "a refusal says why")
            #expect(inner.string("gatehouse.source.principal") == "cluster.local/ns/default/sa/frontend")
            #expect(outer.string("http.request.method") == "GET" && outer.string("istio.canonical_service") == "frontend")
            #expect(outer.bool("gatehouse.cold_start") == true)
            #expect(outer.string("team") == "payments" && outer.string("tenant") == "acme", "custom tags: literal and header")
            #expect(inner.string("tenant") == "none", "a header tag's default when the header is absent")
            #expect(outer.statusCode == "UNSET" && inner.statusCode == "UNSET", "4xx is not a server error")
        }
    }

    @Test("A collector that refuses spans costs requests nothing: they succeed, and the dropped spans are counted")
    func collectorDown() async throws {
        let collector = try await OTLPCollector.start()
        defer { collector.stop() }
        let config = fixtureFunction(name: "fn") + "---\n" + Self.exporting(to: collector, path: "/refuse/v1/traces")
        try await withGatehouse(config) { gatehouse in
            for _ in 0..<3 { #expect(try await gatehouse.request("fn").status == 200) }
            let dropped = try await eventually("spans counted as dropped", timeout: .seconds(10)) { () async throws -> String? in
                let metrics = try await gatehouse.metrics()
                return metrics.split(separator: "\n").first { $0.hasPrefix("gatehouse_trace_spans_dropped_total{reason=\"export_failed\"}") && !$0.hasSuffix(" 0") }.map(String.init)
            }
            #expect(dropped.hasPrefix("gatehouse_trace_spans_dropped_total"))
        }
    }

    @Test("Sampling 0 %: nothing is exported unless the caller's traceparent says sampled; every request is kept locally")
    func sampling() async throws {
        let collector = try await OTLPCollector.start()
        defer { collector.stop() }
        let config = fixtureFunction(name: "fn") + "---\n" + Self.exporting(to: collector, sampling: 0)
        try await withGatehouse(config) { gatehouse in
            let unsampled = try await gatehouse.request("fn")
            let sampled = try await gatehouse.request("fn", headers: [("traceparent", "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
            #expect(unsampled.status == 200 && sampled.status == 200)
            let spans = try await collector.spans(until: { $0.contains { $0.kind == "SERVER" } })
            #expect(Set(spans.map(\.traceId)) == ["5bf92f3577b34da6a3ce929d0e0e4736"], "only the caller-sampled trace is exported")
            let kept = try await gatehouse.cli(["trace", try #require(unsampled.headers.first(name: "x-request-id"))])
            #expect(kept.status == 0, "an unsampled request is still kept locally: \(kept.stderr)")
        }
    }
}
