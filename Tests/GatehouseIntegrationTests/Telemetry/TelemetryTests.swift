import Foundation
import GatehouseTesting
import Testing

/// Istio's Telemetry kind on the real binary: an access log filter and a disabled metric.
@Suite("Telemetry")
struct TelemetryTests {
    static let config = fixtureFunction(name: "noisy") + "---\n" + fixtureFunction(name: "quiet") + """
        ---
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: errors-only, namespace: default}
        spec:
          targetRefs: [{kind: Service, name: noisy}]
          accessLogging:
          - providers: [{name: envoy}]
            filter: {expression: "response.code >= 400"}
        ---
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: no-request-count, namespace: default}
        spec:
          targetRefs: [{kind: Service, name: quiet}]
          metrics:
          - overrides:
            - match: {metric: REQUEST_COUNT}
              disabled: true

        """

    @Test("accessLogging filter `response.code >= 400` logs only the failing request; a disabled metric leaves /metrics for that function only")
    func filterAndDisabledMetric() async throws {
        try await withGatehouse(Self.config) { gatehouse in
            let ok = try await gatehouse.request("noisy", headers: [("x-request-id", "noisy-ok")])
            #expect(ok.status == 200)
            let quiet = try await gatehouse.request("quiet", headers: [("x-request-id", "quiet-ok")])
            #expect(quiet.status == 200)
            let failed = try await gatehouse.request("noisy", path: "/flaky?key=t&fail=1&status=503", headers: [("x-request-id", "noisy-failed")])
            #expect(failed.status == 503)

            // Lines are written in the order requests finish: once the last one's is there, the
            // earlier ones would be too.
            let line = try await gatehouse.accessLogLine(requestId: "noisy-failed")
            #expect(line["response_code"] as? Int == 503)
            let ids = gatehouse.accessLog.compactMap { $0["request_id"] as? String }
            #expect(!ids.contains("noisy-ok"), "\(ids)")
            #expect(ids.contains("quiet-ok"), "no filter for quiet: \(ids)")

            let metrics = try await gatehouse.metrics().split(separator: "\n")
            func series(_ name: String, _ workload: String) -> [Substring] {
                metrics.filter { $0.hasPrefix(name + "{") && $0.contains("destination_workload=\"\(workload)\"") }
            }
            #expect(series("istio_requests_total", "quiet").isEmpty)
            #expect(!series("istio_request_duration_milliseconds_count", "quiet").isEmpty)
            #expect(series("istio_requests_total", "noisy").count == 2, "200 and 503 are two series")
        }
    }
}
