import Foundation
import GatehouseCore
import GatehouseOTLP
import SwiftProtobuf
import Testing
@testable import GatehouseTracing

@Suite("A finished request's spans: the gateway's span, its children, and their OTLP encoding")
struct SpanBuilderTests {
    static let traceparent = TraceContext(
        traceId: TraceID(hex: "4bf92f3577b34da6a3ce929d0e0e4736")!, spanId: SpanID(0x1111), parentSpanId: SpanID(hex: "00f067aa0ba902b7"))

    /// A request that waited for a cold start and was retried once after a 503.
    static func retriedColdStart() -> RequestRecord {
        let start = ContinuousClock.now
        var record = RequestRecord(
            requestId: "req-1", startWallNanos: 1_700_000_000_000_000_000, start: start, method: "GET", path: "/orders?id=1",
            httpProtocol: "HTTP/1.1", authority: "hello.default.localhost:8080")
        record.trace = traceparent
        record.destination = FunctionDestination(spec: FunctionSpec(name: "hello", namespace: "default", process: .init(command: ["true"])))
        record.spans = [
            RecordedSpan(kind: .queue, id: SpanID(0x2), start: start, end: start + .milliseconds(30)),
            RecordedSpan(kind: .coldStart, id: SpanID(0x3), start: start - .milliseconds(1), end: start + .milliseconds(29)),
        ]
        var first = RecordedSpan(kind: .upstreamAttempt, id: SpanID(0x4), start: start + .milliseconds(30), end: start + .milliseconds(31))
        first.status = 503
        first.failed = true
        first.detail = "answered 503"
        var second = RecordedSpan(kind: .upstreamAttempt, id: SpanID(0x5), start: start + .milliseconds(31), end: start + .milliseconds(40))
        second.status = 200
        second.detail = "127.0.0.1:40001"
        record.spans += [first, second]
        record.attempts = 2
        record.coldStart = true
        record.responseCode = 200
        record.duration = .milliseconds(41)
        return record
    }

    @Test("One SERVER span for the request, a child for each recorded piece of work, all in the caller's trace")
    func tree() throws {
        let spans = SpanBuilder(meshId: "cluster.local").spans(for: Self.retriedColdStart())
        #expect(spans.map(\.name) == ["GET hello.default.localhost", "queue", "cold_start", "upstream attempt 1", "upstream attempt 2"])
        let server = try #require(spans.first)
        #expect(server.kind == .server)
        #expect(server.parentSpanId == "00f067aa0ba902b7", "the caller's span is the parent")
        #expect(spans.dropFirst().allSatisfy { $0.parentSpanId == server.spanId && $0.traceId == server.traceId })
        #expect(server.attribute("http.response.status_code") == .int(200))
        #expect(server.attribute("gatehouse.cold_start") == .bool(true))
        #expect(server.attribute("istio.canonical_service") == .string("hello"))
        #expect(server.attribute("istio.mesh_id") == .string("cluster.local"))
        #expect(server.endNanos - server.startNanos == 41_000_000)
        #expect(spans[3].failed && spans[3].attribute("http.response.status_code") == .int(503), "the retried attempt shows why")
        #expect(spans[2].startNanos < server.startNanos, "the instance began starting before this request arrived")
    }

    @Test("A refusal is a span with its reason; a 5xx is an error")
    func refusal() throws {
        var record = Self.retriedColdStart()
        record.spans = []
        record.responseCode = 403
        record.failure = GatehouseError(.deniedByPolicy, detail: "RBAC: denied by default/deny-all")
        var spans = SpanBuilder(meshId: "cluster.local").spans(for: record)
        #expect(spans[0].attribute("gatehouse.reason") == .string("RBAC: denied by default/deny-all"))
        #expect(!spans[0].failed, "a 4xx is the caller's, not the server's, error")
        record.responseCode = 503
        spans = SpanBuilder(meshId: "cluster.local").spans(for: record)
        #expect(spans[0].failed && spans[0].statusMessage == "RBAC: denied by default/deny-all")
    }

    @Test("OTLP encoding round-trips through the protobuf messages: ids as bytes, kinds, times, attributes, status")
    func otlp() throws {
        let spans = SpanBuilder(meshId: "cluster.local").spans(for: Self.retriedColdStart())
        let bytes: [UInt8] = try OTLPEncoding.request(spans, version: "test").serializedBytes()
        let decoded = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: bytes)
        let resource = try #require(decoded.resourceSpans.first)
        #expect(resource.resource.attributes.first { $0.key == "service.name" }?.value.stringValue == "hello.default")
        let encoded = try #require(resource.scopeSpans.first?.spans)
        #expect(encoded.count == 5)
        #expect(encoded[0].traceID == Data([0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36]))
        #expect(encoded[0].parentSpanID == Data([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]))
        #expect(encoded[0].kind == .server && encoded[3].kind == .client)
        #expect(encoded[0].startTimeUnixNano == 1_700_000_000_000_000_000)
        #expect(encoded[3].status.code == .error && encoded[4].status.code == .unset)
        #expect(encoded[0].attributes.first { $0.key == "http.request.method" }?.value.stringValue == "GET")

        let cut = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(
            serializedBytes: try OTLPEncoding.request(spans, version: "test", maxValueLength: 8).serializedBytes() as [UInt8])
        let server = try #require(cut.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(server.attributes.first { $0.key == "server.address" }?.value.stringValue == "hello.de", "maxTagLength cuts values")
    }

    @Test("The tree puts a mesh hop under the attempt that called it and says where it failed")
    func rendered() throws {
        let builder = SpanBuilder(meshId: "cluster.local")
        let outer = Self.retriedColdStart()
        var inner = RequestRecord(
            requestId: "req-2", startWallNanos: outer.startWallNanos + 35_000_000, start: .now, method: "POST", path: "/charge",
            httpProtocol: "HTTP/1.1", authority: "billing.default.localhost")
        inner.trace = TraceContext(traceId: outer.trace.traceId, spanId: SpanID(0x9), parentSpanId: SpanID(0x5))
        inner.viaMeshListener = true
        inner.responseCode = 403
        inner.failure = GatehouseError(.deniedByPolicy, detail: "RBAC: access denied by default/only-frontend")
        inner.duration = .microseconds(400)
        let report = TraceReport(
            traceId: outer.trace.traceId.description, requests: 2, spans: builder.spans(for: outer) + builder.spans(for: inner))
        let text = TraceTree.render(report)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("trace 4bf92f3577b34da6a3ce929d0e0e4736 · 2 requests through Gatehouse"))
        let mesh = try #require(lines.first { $0.contains("POST billing.default.localhost") } as String?)
        #expect(mesh.contains("mesh") && mesh.contains("only-frontend"))
        #expect(mesh.hasPrefix("   "), "the mesh hop sits under the second attempt, indented")
        #expect(lines.firstIndex { $0.contains("upstream attempt 2") }! < lines.firstIndex { $0.contains("POST billing") }!)
    }
}
