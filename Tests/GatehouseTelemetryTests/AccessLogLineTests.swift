import Foundation
import GatehouseCore
import Testing

@testable import GatehouseTelemetry

/// One request, one line of JSON with the keys of Istio's default JSON access log.
@Suite("Access log line")
struct AccessLogLineTests {
    static let istioKeys = [
        "start_time", "method", "path", "protocol", "response_code", "response_flags", "bytes_received",
        "bytes_sent", "duration", "upstream_service_time", "x_forwarded_for", "user_agent", "request_id",
        "authority", "upstream_host", "cold_start",
    ]

    /// A successful request to `hello` that cold-started an instance.
    func servedRecord() -> RequestRecord {
        var record = finishedRequest(
            to: FunctionDestination(spec: helloSpec), code: 200, duration: .microseconds(15_700), received: 12, sent: 345)
        record.requestId = "0f8fad5b-d9cb-469f-a165-70867728950e"
        record.method = "POST"
        record.path = RequestPath("/greet?name=ada")
        record.forwardedFor = "203.0.113.7, 127.0.0.1"
        record.userAgent = "curl/8.5.0"
        record.downstreamAddress = "127.0.0.1"
        record.upstreamHost = "127.0.0.1:40123"
        record.upstreamServiceTime = .microseconds(12_900)
        record.coldStart = true
        return record
    }

    func line(_ record: RequestRecord) -> String {
        var out = ""
        AccessLogLine.format(record, into: &out)
        return out
    }

    func json(_ line: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(object as? [String: Any])
    }

    @Test("A served request is one line of JSON with Istio's keys and values")
    func servedRequest() throws {
        let text = line(servedRecord())
        #expect(text.hasSuffix("}\n"))
        #expect(text.filter { $0 == "\n" }.count == 1)

        let fields = try json(text)
        for key in Self.istioKeys { #expect(fields[key] != nil, "missing \(key)") }
        #expect(fields["start_time"] as? String == "2024-03-05T06:07:08.009Z")
        #expect(fields["method"] as? String == "POST")
        #expect(fields["path"] as? String == "/greet?name=ada")
        #expect(fields["protocol"] as? String == "HTTP/1.1")
        #expect(fields["response_code"] as? Int == 200)
        #expect(fields["response_flags"] as? String == "-")
        #expect(fields["response_code_details"] as? String == "via_upstream")
        #expect(fields["bytes_received"] as? Int == 12)
        #expect(fields["bytes_sent"] as? Int == 345)
        #expect(fields["duration"] as? Int == 15)
        #expect(fields["upstream_service_time"] as? Int == 12)
        #expect(fields["x_forwarded_for"] as? String == "203.0.113.7, 127.0.0.1")
        #expect(fields["user_agent"] as? String == "curl/8.5.0")
        #expect(fields["request_id"] as? String == "0f8fad5b-d9cb-469f-a165-70867728950e")
        #expect(fields["authority"] as? String == "hello.default.localhost")
        #expect(fields["upstream_host"] as? String == "127.0.0.1:40123")
        #expect(fields["upstream_cluster"] as? String == "inbound|http||hello.default.svc.cluster.local")
        #expect(fields["route_name"] as? String == "hello-00001")
        #expect(fields["cold_start"] as? Bool == true)
        #expect(fields["error_detail"] == nil)
    }

    @Test("A refused request has flags, null upstream fields, and its internal reason in error_detail")
    func refusedRequest() throws {
        var record = finishedRequest(to: nil, code: 503, flags: [.upstreamOverflow])
        record.failure = GatehouseError(.queueFull, detail: "100 requests already waiting")
        let fields = try json(line(record))

        #expect(fields["response_code"] as? Int == 503)
        #expect(fields["response_flags"] as? String == "UO")
        #expect(fields["response_code_details"] as? String == "queue_full")
        #expect(fields["error_detail"] as? String == "100 requests already waiting")
        for key in ["upstream_service_time", "x_forwarded_for", "user_agent", "upstream_host", "upstream_cluster"] {
            #expect(fields[key] is NSNull, "\(key) should be null")
        }
        #expect(fields["cold_start"] as? Bool == false)
    }

    @Test("A client that left before a response has code 0, details -, and flag DC")
    func clientLeft() throws {
        let fields = try json(line(finishedRequest(to: nil, code: 0, flags: [.downstreamConnectionTermination])))
        #expect(fields["response_code"] as? Int == 0)
        #expect(fields["response_code_details"] as? String == "-")
        #expect(fields["response_flags"] as? String == "DC")
    }

    @Test("Quotes, backslashes and control characters are escaped; other text passes through")
    func escaping() throws {
        // Normalization turns `\` into `/` (as Envoy's does); the rest reaches the log as sent.
        let hostile = "/a\"b\\c\nd\re\tf\u{01}g\u{1F}h\u{7F}é🙂"
        var record = servedRecord()
        record.path = RequestPath(hostile)
        #expect(record.path.value == hostile.replacingOccurrences(of: "\\", with: "/"))
        record.userAgent = "\"}, \"response_code\": 999, \"x\": \""
        record.failure = GatehouseError(.upstreamReset, detail: "line one\nline two")
        let text = line(record)
        #expect(text.filter { $0 == "\n" }.count == 1)
        #expect(text.contains("\\u0001"))
        #expect(text.contains("\\u001f"))

        let fields = try json(text)
        #expect(fields["path"] as? String == record.path.value)
        #expect(fields["user_agent"] as? String == record.userAgent)
        #expect(fields["response_code"] as? Int == 200)
        #expect(fields["error_detail"] as? String == "line one\nline two")
    }

    @Test("start_time is RFC 3339 in UTC with milliseconds", arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1_709_618_828_009_123_456, "2024-03-05T06:07:08.009Z"),
        (951_825_599_999_999_999, "2000-02-29T11:59:59.999Z"),
    ])
    func timestamp(nanos: Int64, expected: String) {
        #expect(AccessLogLine.timestamp(nanos) == expected)
    }
}
