import GatehouseCore

#if canImport(Glibc)
import Glibc
#endif

/// One request as a JSON line with the keys of Istio's default JSON access log format, plus
/// `cold_start`. Internal failure details stay here (and in the log), never in a response.
enum AccessLogLine {
    static func format(_ record: RequestRecord, into out: inout String) {
        out += "{\"start_time\":\""
        out += timestamp(record.startWallNanos)
        out += "\",\"method\":"
        appendJSON(record.method, to: &out)
        out += ",\"path\":"
        appendJSON(record.path, to: &out)
        out += ",\"protocol\":\"" + record.httpProtocol + "\""
        out += ",\"response_code\":" + String(record.responseCode)
        out += ",\"response_flags\":\"" + record.responseFlags.description + "\""
        out += ",\"response_code_details\":"
        appendJSON(record.failure.map { $0.code.name } ?? (record.responseCode == 0 ? "-" : "via_upstream"), to: &out)
        out += ",\"bytes_received\":" + String(record.bytesReceived)
        out += ",\"bytes_sent\":" + String(record.bytesSent)
        out += ",\"duration\":" + String((record.duration ?? .zero).milliseconds)
        out += ",\"upstream_service_time\":"
        out += record.upstreamServiceTime.map { String($0.milliseconds) } ?? "null"
        out += ",\"x_forwarded_for\":"
        appendOptionalJSON(record.forwardedFor, to: &out)
        out += ",\"user_agent\":"
        appendOptionalJSON(record.userAgent, to: &out)
        out += ",\"request_id\":"
        appendJSON(record.requestId, to: &out)
        out += ",\"authority\":"
        appendJSON(record.authority, to: &out)
        out += ",\"upstream_host\":"
        appendOptionalJSON(record.upstreamHost, to: &out)
        out += ",\"upstream_cluster\":"
        appendOptionalJSON(record.destination.map { "inbound|http||\($0.serviceHost)" }, to: &out)
        out += ",\"downstream_remote_address\":"
        appendOptionalJSON(record.downstreamAddress, to: &out)
        out += ",\"route_name\":"
        appendOptionalJSON(record.destination?.revision, to: &out)
        out += ",\"cold_start\":" + (record.coldStart ? "true" : "false")
        if let failure = record.failure {
            out += ",\"error_detail\":"
            appendJSON(failure.detail, to: &out)
        }
        out += "}\n"
    }

    /// RFC 3339 in UTC with milliseconds, as Envoy prints `%START_TIME%`.
    static func timestamp(_ nanos: Int64) -> String {
        var seconds = time_t(nanos / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int((nanos / 1_000_000) % 1000)
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)).\(pad(millis, width: 3))Z"
    }

    private static func pad(_ value: some BinaryInteger, width: Int = 2) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    private static func appendOptionalJSON(_ value: String?, to out: inout String) {
        if let value { appendJSON(value, to: &out) } else { out += "null" }
    }

    static func appendJSON(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
