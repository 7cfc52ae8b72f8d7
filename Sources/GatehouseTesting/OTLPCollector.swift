import Foundation

/// An OpenTelemetry collector for trace tests: an OTLP/HTTP receiver that decodes each
/// `ExportTraceServiceRequest` with the official protobuf definitions (PyPI `opentelemetry-proto`)
/// and serves what it received as JSON at `GET /spans`: one object per span with `traceId`,
/// `spanId`, `parentSpanId` (hex), `name`, `kind` (`SERVER`, `CLIENT`, …), `service`, `attributes`
/// (key → value), `statusCode` (`UNSET`, `ERROR`), `statusMessage`, `start`, `end`.
/// `POST /v1/traces` answers 200; `POST /refuse/v1/traces` answers 503 (a collector that is down).
public final class OTLPCollector: @unchecked Sendable {
    private let server: PythonServer
    public var port: Int { server.port }

    public struct Span: Decodable, Sendable {
        public var traceId: String
        public var spanId: String
        public var parentSpanId: String
        public var name: String
        public var kind: String
        public var service: String
        public var attributes: [String: AttributeValue]
        public var statusCode: String
        public var statusMessage: String
        public var start: UInt64
        public var end: UInt64

        public func string(_ key: String) -> String? {
            if case .string(let text) = attributes[key] { return text }
            return nil
        }
        public func int(_ key: String) -> Int? {
            if case .int(let number) = attributes[key] { return number }
            return nil
        }
        public func bool(_ key: String) -> Bool? {
            if case .bool(let flag) = attributes[key] { return flag }
            return nil
        }
    }

    public enum AttributeValue: Decodable, Sendable, Equatable {
        case string(String), int(Int), bool(Bool)

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) { self = .bool(flag) }
            else if let number = try? container.decode(Int.self) { self = .int(number) }
            else { self = .string(try container.decode(String.self)) }
        }
    }

    public static func start() async throws -> OTLPCollector {
        OTLPCollector(server: try await PythonServer.start(
            source, readyPath: "/spans", name: "the OTLP collector fixture (is PyPI opentelemetry-proto installed?)"))
    }

    private init(server: PythonServer) {
        self.server = server
    }

    public func stop() { server.stop() }

    deinit { stop() }

    /// Every span received so far.
    public func spans() async throws -> [Span] {
        let response = try await RunningGatehouse.send(
            url: "http://127.0.0.1:\(port)/spans", host: nil, method: .GET, headers: [], body: nil)
        return try JSONDecoder().decode([Span].self, from: Data(response.body.utf8))
    }

    /// Waits (up to `timeout`) until the received spans satisfy `condition`; returns them.
    public func spans(until condition: ([Span]) -> Bool, timeout: Duration = .seconds(15)) async throws -> [Span] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let received = try await spans()
            if condition(received) || ContinuousClock.now > deadline { return received }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static let source = #"""
        import json, sys, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
        from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

        LOCK = threading.Lock()
        SPANS = []

        def value(any_value):
            kind = any_value.WhichOneof("value")
            return getattr(any_value, kind) if kind else None

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, body, content_type="application/json"):
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                with LOCK:
                    body = json.dumps(SPANS).encode()
                self.answer(200, body)

            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.path.startswith("/refuse"):
                    return self.answer(503, b"collector down")
                if self.headers.get("content-type") != "application/x-protobuf":
                    return self.answer(415, b"want application/x-protobuf")
                request = ExportTraceServiceRequest()
                request.ParseFromString(data)
                received = []
                for resource_spans in request.resource_spans:
                    service = next((value(a.value) for a in resource_spans.resource.attributes if a.key == "service.name"), "")
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            received.append({
                                "traceId": span.trace_id.hex(), "spanId": span.span_id.hex(),
                                "parentSpanId": span.parent_span_id.hex(), "name": span.name,
                                "kind": Span.SpanKind.Name(span.kind).replace("SPAN_KIND_", ""), "service": service,
                                "attributes": {a.key: value(a.value) for a in span.attributes},
                                "statusCode": Status.StatusCode.Name(span.status.code).replace("STATUS_CODE_", ""),
                                "statusMessage": span.status.message,
                                "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
                            })
                with LOCK:
                    SPANS.extend(received)
                self.answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

        ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
        """#
}
