import Foundation
import GatehouseCore
import Testing

import GatehouseTelemetry

/// Istio's standard request metrics and Gatehouse's function lifecycle metrics, read back from the
/// Prometheus text exposition exactly as a scraper sees it.
@Suite("Metrics exposition")
struct IstioMetricsTests {
    /// The registry type comes from swift-prometheus, which this test target does not import:
    /// `.init()` builds one through `RequestTelemetry`'s own signature.
    let telemetry: RequestTelemetry
    let hello = FunctionDestination(spec: helloSpec)

    init() throws {
        telemetry = RequestTelemetry(
            registry: .init(), accessLog: try AccessLog(destination: .off, registry: .init()))
    }

    static let istioLabelNames = [
        "reporter", "source_workload", "source_canonical_service", "source_canonical_revision",
        "source_workload_namespace", "source_principal", "source_app",
        "source_version", "source_cluster", "destination_workload", "destination_workload_namespace",
        "destination_principal", "destination_app", "destination_version", "destination_service",
        "destination_canonical_service", "destination_canonical_revision", "destination_service_name", "destination_service_namespace", "destination_cluster", "request_protocol",
        "response_code", "grpc_response_status", "response_flags", "connection_security_policy",
    ]

    static let helloLabels = [
        "function": "hello", "namespace": "default", "revision": "hello-00001",
    ]

    @Test("istio_requests_total counts each request under Istio's 25 labels, in Istio's order")
    func requestsTotal() {
        telemetry.requestFinished(finishedRequest(to: hello, code: 200))
        telemetry.requestFinished(finishedRequest(to: hello, code: 200))
        let exposition = Exposition(telemetry.exposition())

        let expected = #"istio_requests_total{reporter="destination",source_workload="unknown","#
            + #"source_canonical_service="unknown",source_canonical_revision="unknown","#
            + #"source_workload_namespace="unknown",source_principal="unknown",source_app="unknown","#
            + #"source_version="unknown",source_cluster="unknown",destination_workload="hello","#
            + #"destination_workload_namespace="default",destination_principal="unknown",destination_app="hello","#
            + #"destination_version="v1",destination_service="hello.default.svc.cluster.local","#
            + #"destination_canonical_service="hello",destination_canonical_revision="v1","#
            + #"destination_service_name="hello",destination_service_namespace="default",destination_cluster="unknown","#
            + #"request_protocol="http",response_code="200",grpc_response_status="",response_flags="-","#
            + #"connection_security_policy="none"} 2"#
        #expect(exposition.lines.contains(expected))
        for sample in exposition.samples where sample.name.hasPrefix("istio_") && !sample.name.hasSuffix("_bucket") {
            #expect(sample.labels.map(\.name) == Self.istioLabelNames, "\(sample.name)")
        }
    }

    @Test("Each response code and flag combination is its own series, and counts add up per series")
    func seriesPerOutcome() {
        for _ in 0..<3 { telemetry.requestFinished(finishedRequest(to: hello, code: 200, received: 10, sent: 100)) }
        telemetry.requestFinished(finishedRequest(to: hello, code: 503, flags: [.upstreamOverflow]))
        telemetry.requestFinished(finishedRequest(to: nil, code: 404, flags: [.noRoute]))
        let exposition = Exposition(telemetry.exposition())

        let ok = ["destination_service": "hello.default.svc.cluster.local", "response_code": "200", "response_flags": "-"]
        let overflow = ["destination_service": "hello.default.svc.cluster.local", "response_code": "503", "response_flags": "UO"]
        let noRoute = ["destination_service": "unknown", "destination_workload": "unknown", "response_code": "404", "response_flags": "NR"]
        #expect(exposition.value("istio_requests_total", ok) == 3)
        #expect(exposition.value("istio_requests_total", overflow) == 1)
        #expect(exposition.value("istio_requests_total", noRoute) == 1)
        #expect(exposition.samples("istio_requests_total").count == 3)

        for series in [ok, overflow, noRoute] {
            let requests = exposition.value("istio_requests_total", series)
            #expect(exposition.value("istio_request_duration_milliseconds_count", series) == requests)
            #expect(exposition.value("istio_request_bytes_count", series) == requests)
            #expect(exposition.value("istio_response_bytes_count", series) == requests)
        }
        #expect(exposition.value("istio_request_bytes_sum", ok) == 30)
        #expect(exposition.value("istio_response_bytes_sum", ok) == 300)
    }

    @Test("Request durations land in Istio's millisecond buckets, cumulatively")
    func durationBuckets() throws {
        for duration: Duration in [.microseconds(300), .milliseconds(7), .seconds(20)] {
            telemetry.requestFinished(finishedRequest(to: hello, code: 200, duration: duration))
        }
        let exposition = Exposition(telemetry.exposition())
        let buckets = exposition.samples("istio_request_duration_milliseconds_bucket", ["response_code": "200"])

        let bounds = buckets.compactMap { $0.label("le") }
        #expect(bounds.last == "+Inf")
        #expect(bounds.dropLast().map { Double($0) } == [
            0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
            3600000,
        ])
        func count(le bound: String) -> Double? { buckets.first { $0.label("le") == bound }?.value }
        #expect(count(le: "0.5") == 1)
        #expect(count(le: bounds[3]) == 2)  // le=10
        #expect(count(le: bounds[12]) == 2)  // le=10000
        #expect(count(le: bounds[13]) == 3)  // le=30000
        #expect(count(le: "+Inf") == 3)
        let sum = try #require(exposition.value("istio_request_duration_milliseconds_sum", ["response_code": "200"]))
        #expect(abs(sum - 20_007.3) < 0.001)
    }

    @Test("Every metric family has # HELP and # TYPE lines")
    func helpForEveryFamily() {
        telemetry.requestFinished(finishedRequest(to: hello, code: 200))
        telemetry.lifecycleObserver.observer(for: helloSpec).coldStartCompleted(duration: .seconds(1))
        let exposition = Exposition(telemetry.exposition())
        let families: Set = [
            "istio_requests_total", "istio_request_duration_milliseconds", "istio_request_bytes",
            "istio_response_bytes", "gatehouse_function_cold_starts_total",
            "gatehouse_function_cold_start_duration_seconds", "gatehouse_function_instances",
            "gatehouse_function_queue_depth", "gatehouse_function_inflight_requests",
        ]
        #expect(exposition.announced("TYPE") == families)
        #expect(exposition.announced("HELP") == families)
    }

    @Test("A completed cold start is counted, and its duration recorded in seconds, per function")
    func coldStarts() {
        telemetry.lifecycleObserver.observer(for: helloSpec).coldStartCompleted(duration: .milliseconds(1500))
        telemetry.lifecycleObserver.observer(for: helloSpec).coldStartCompleted(duration: .milliseconds(40))
        let exposition = Exposition(telemetry.exposition())

        #expect(exposition.value("gatehouse_function_cold_starts_total", Self.helloLabels) == 2)
        #expect(exposition.value("gatehouse_function_cold_start_duration_seconds_count", Self.helloLabels) == 2)
        #expect(exposition.value("gatehouse_function_cold_start_duration_seconds_sum", Self.helloLabels) == 1.54)
        let buckets = exposition.samples("gatehouse_function_cold_start_duration_seconds_bucket", Self.helloLabels)
        func count(le bound: Double) -> Double? { buckets.first { $0.label("le").flatMap(Double.init) == bound }?.value }
        #expect(count(le: 0.05) == 1)
        #expect(count(le: 1) == 1)
        #expect(count(le: 2.5) == 2)
    }

    @Test("Pool changes set the instance, queue and in-flight gauges per function")
    func poolGauges() {
        telemetry.lifecycleObserver.observer(for: helloSpec).poolChanged(instances: 3, queueDepth: 4, inflight: 5)
        telemetry.lifecycleObserver.observer(for: helloSpec).poolChanged(instances: 2, queueDepth: 0, inflight: 7)
        let exposition = Exposition(telemetry.exposition())

        #expect(exposition.value("gatehouse_function_instances", Self.helloLabels) == 2)
        #expect(exposition.value("gatehouse_function_queue_depth", Self.helloLabels) == 0)
        #expect(exposition.value("gatehouse_function_inflight_requests", Self.helloLabels) == 7)
    }

    @Test("A function applied after start gets its own series, labelled with its current revision")
    func appliedLater() {
        var later = FunctionSpec(name: "later", process: .init(command: ["true"]))
        later.generation = 3
        telemetry.lifecycleObserver.observer(for: later).coldStartCompleted(duration: .seconds(1))
        telemetry.lifecycleObserver.observer(for: later).poolChanged(instances: 1, queueDepth: 0, inflight: 1)
        let exposition = Exposition(telemetry.exposition())
        let labels = ["function": "later", "namespace": "default", "revision": "later-00003"]
        #expect(exposition.value("gatehouse_function_cold_starts_total", labels) == 1)
        #expect(exposition.value("gatehouse_function_inflight_requests", labels) == 1)
    }

    static let promtool: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "")
        .split(separator: ":")
        .map { "\($0)/promtool" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(
        "promtool accepts the exposition, save Istio's millisecond unit",
        .enabled(if: IstioMetricsTests.promtool != nil, "promtool (Debian package prometheus) is not on PATH"))
    func promtoolCheck() throws {
        telemetry.requestFinished(finishedRequest(to: hello, code: 200))
        telemetry.requestFinished(finishedRequest(to: nil, code: 404, flags: [.noRoute]))
        telemetry.lifecycleObserver.observer(for: helloSpec).coldStartCompleted(duration: .seconds(1))
        telemetry.lifecycleObserver.observer(for: helloSpec).poolChanged(instances: 1, queueDepth: 0, inflight: 1)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.promtool))
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(telemetry.exposition()))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()

        let complaints = report.split(separator: "\n").filter { !$0.isEmpty }
        #expect(!complaints.isEmpty, "the millisecond unit is expected to be linted")
        for complaint in complaints {
            #expect(complaint.contains("istio_request_duration_milliseconds"), "\(complaint)")
        }
    }
}
