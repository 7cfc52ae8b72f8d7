import Foundation
import GatehouseCore
import Prometheus
import Testing

@testable import GatehouseTelemetry

/// A destination's Telemetry policy decides which access log lines and metric series are written.
@Suite("Telemetry policies enforced")
struct TelemetryPolicyEnforcementTests {
    static func telemetry(logTo path: String) throws -> RequestTelemetry {
        let registry = PrometheusCollectorRegistry()
        return RequestTelemetry(registry: registry, accessLog: try AccessLog(destination: .file(path), registry: registry, flushInterval: .seconds(3600)))
    }

    static func destination(_ policy: TelemetryPolicy) -> FunctionDestination {
        FunctionDestination(spec: helloSpec, telemetry: policy)
    }

    @Test("An access log filter writes only the requests it matches; disabled writes none")
    func accessLogFilter() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("access-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let telemetry = try Self.telemetry(logTo: path)
        let errorsOnly = Self.destination(TelemetryPolicy(accessLogging: .init(filter: try TelemetryExpression(parsing: "response.code >= 400"))))
        let silent = Self.destination(TelemetryPolicy(accessLogging: .init(isEnabled: false)))
        for (destination, code, id) in [(errorsOnly, 200, "ok"), (errorsOnly, 503, "failed"), (silent, 500, "silent")] {
            var record = finishedRequest(to: destination, code: code)
            record.requestId = id
            telemetry.requestFinished(record)
        }
        await telemetry.accessLog.flush()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("\"request_id\":\"failed\""), "\(lines)")
    }

    @Test("A request that reaches no function follows the mesh-wide policy")
    func unrouted() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("access-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let telemetry = try Self.telemetry(logTo: path)
        let quiet = UnroutedTelemetry(policy: TelemetryPolicy(accessLogging: .init(isEnabled: false), metrics: .init(disabled: Set(IstioMetric.allCases))))
        telemetry.requestFinished(finishedRequest(to: nil, code: 404, flags: [.noRoute]), unrouted: quiet)
        await telemetry.accessLog.flush()
        #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty)
        #expect(!Exposition(telemetry.exposition()).lines.contains { $0.hasPrefix("istio_") })
    }

    @Test("A disabled metric is not recorded; the others are")
    func disabledMetric() throws {
        let telemetry = try Self.telemetry(logTo: "/dev/null")
        telemetry.requestFinished(finishedRequest(to: Self.destination(TelemetryPolicy(metrics: .init(disabled: [.requestCount, .responseSize]))), code: 200))
        let exposition = Exposition(telemetry.exposition())
        #expect(exposition.samples("istio_requests_total").isEmpty)
        #expect(exposition.samples("istio_response_bytes_count").isEmpty)
        #expect(exposition.value("istio_request_duration_milliseconds_count", ["response_code": "200"]) == 1)
        #expect(exposition.value("istio_request_bytes_count", ["response_code": "200"]) == 1)
    }

    @Test("Tag overrides: REMOVE drops the label, UPSERT sets or adds one from the request")
    func tagOverrides() throws {
        let telemetry = try Self.telemetry(logTo: "/dev/null")
        let overrides: [TagOverride] = [
            .init(name: "request_host", operation: .upsert(.attribute(.requestHost))),
            .init(name: "source_app", operation: .remove),
            .init(name: "tenant", operation: .upsert(.attribute(.requestHeader("x-tenant")))),
            .init(name: "request_protocol", operation: .upsert(.string("h1"))),
        ]
        let destination = Self.destination(TelemetryPolicy(metrics: .init(tagOverrides: [.requestCount: overrides])))
        for tenant in ["acme", "acme", "globex"] {
            var record = finishedRequest(to: destination, code: 200)
            record.extensions[TelemetryHeaders.self] = TelemetryHeaders(values: [("x-tenant", tenant)])
            telemetry.requestFinished(record)
        }
        let exposition = Exposition(telemetry.exposition())
        let series = exposition.samples("istio_requests_total")
        #expect(series.count == 2)
        #expect(exposition.value("istio_requests_total", ["tenant": "acme", "request_host": "hello.default.localhost", "request_protocol": "h1"]) == 2)
        #expect(exposition.value("istio_requests_total", ["tenant": "globex"]) == 1)
        #expect(series.allSatisfy { $0.label("source_app") == nil })
        #expect(exposition.samples("istio_request_bytes_count").allSatisfy { $0.label("source_app") == "unknown" }, "other metrics keep it")
    }

    @Test("Labels from the request are bounded: past the series limit new values are `other`, and long ones are cut")
    func requestDerivedBound() throws {
        let telemetry = try Self.telemetry(logTo: "/dev/null")
        let overrides: [TagOverride] = [.init(name: "tenant", operation: .upsert(.attribute(.requestHeader("x-tenant"))))]
        let destination = Self.destination(TelemetryPolicy(metrics: .init(tagOverrides: [.requestCount: overrides])))
        let hostile = IstioMetrics.maxRequestDerivedSeries + 50
        for n in 0..<hostile {
            var record = finishedRequest(to: destination, code: 200)
            record.extensions[TelemetryHeaders.self] = TelemetryHeaders(values: [("x-tenant", "t\(n)-" + String(repeating: "x", count: 1_000))])
            telemetry.requestFinished(record)
        }
        let series = Exposition(telemetry.exposition()).samples("istio_requests_total")
        #expect(series.count == IstioMetrics.maxRequestDerivedSeries + 1, "the first ones, then one `other`")
        #expect(series.filter { $0.label("tenant") == "other" }.count == 1)
        #expect(series.allSatisfy { ($0.label("tenant")?.utf8.count ?? 0) <= IstioMetrics.maxTagValueBytes })
    }
}
