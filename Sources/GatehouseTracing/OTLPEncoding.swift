import Foundation
import GatehouseOTLP
import SwiftProtobuf

/// Spans as OTLP's `ExportTraceServiceRequest` (protobuf, the OTLP/HTTP default encoding): one
/// resource per service (`service.name` is the function's `NAME.NAMESPACE`, as Istio names a
/// workload's spans), one instrumentation scope, Gatehouse's.
enum OTLPEncoding {
    static let scopeName = "gatehouse"

    static func request(_ spans: [FinishedSpan], version: String, maxValueLength: Int = .max) -> Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest {
        var byService: [String: [FinishedSpan]] = [:]
        var order: [String] = []
        for span in spans {
            if byService[span.service] == nil { order.append(span.service) }
            byService[span.service, default: []].append(span)
        }
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        request.resourceSpans = order.map { service in
            var resource = Opentelemetry_Proto_Trace_V1_ResourceSpans()
            resource.resource.attributes = [keyValue("service.name", .string(service)), keyValue("telemetry.sdk.name", .string("gatehouse"))]
            var scope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
            scope.scope.name = scopeName
            scope.scope.version = version
            scope.spans = byService[service, default: []].map { span($0, maxValueLength: maxValueLength) }
            resource.scopeSpans = [scope]
            return resource
        }
        return request
    }

    static func span(_ span: FinishedSpan, maxValueLength: Int = .max) -> Opentelemetry_Proto_Trace_V1_Span {
        var encoded = Opentelemetry_Proto_Trace_V1_Span()
        encoded.traceID = bytes(hex: span.traceId)
        encoded.spanID = bytes(hex: span.spanId)
        if let parent = span.parentSpanId { encoded.parentSpanID = bytes(hex: parent) }
        if let state = span.traceState { encoded.traceState = state }
        encoded.name = cut(span.name, to: maxValueLength)
        encoded.kind = switch span.kind {
        case .server: .server
        case .client: .client
        case .internal: .internal
        }
        encoded.startTimeUnixNano = UInt64(max(0, span.startNanos))
        encoded.endTimeUnixNano = UInt64(max(0, span.endNanos))
        encoded.attributes = span.attributes.map { keyValue($0.key, $0.value, maxLength: maxValueLength) }
        if span.failed {
            encoded.status.code = .error
            if let message = span.statusMessage { encoded.status.message = cut(message, to: maxValueLength) }
        }
        return encoded
    }

    private static func keyValue(_ key: String, _ value: FinishedSpan.Value, maxLength: Int = .max) -> Opentelemetry_Proto_Common_V1_KeyValue {
        var pair = Opentelemetry_Proto_Common_V1_KeyValue()
        pair.key = key
        switch value {
        // The provider's `maxTagLength`, as Envoy cuts tag values.
        case .string(let text): pair.value.stringValue = cut(text, to: maxLength)
        case .int(let number): pair.value.intValue = number
        case .bool(let flag): pair.value.boolValue = flag
        }
        return pair
    }

    /// `text` in at most `maxBytes` UTF-8 bytes, cut on a character boundary.
    static func cut(_ text: String, to maxBytes: Int) -> String {
        guard text.utf8.count > maxBytes else { return text }
        var bytes = 0
        var end = text.startIndex
        for index in text.indices {
            let next = text.index(after: index)
            let size = text.utf8.distance(from: index, to: next)
            if bytes + size > maxBytes { break }
            bytes += size
            end = next
        }
        return String(text[..<end])
    }

    /// Ids are lowercase hex here (they were written by `TraceID`/`SpanID`).
    static func bytes(hex: String) -> Data {
        var data = Data(capacity: hex.utf8.count / 2)
        var high: UInt8?
        for digit in hex.utf8 {
            let nibble = digit <= UInt8(ascii: "9") ? digit &- UInt8(ascii: "0") : digit &- UInt8(ascii: "a") &+ 10
            if let first = high {
                data.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return data
    }
}
