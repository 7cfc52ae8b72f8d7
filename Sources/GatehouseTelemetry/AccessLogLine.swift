import GatehouseCore

#if canImport(Glibc)
import Glibc
#endif

/// One request as a JSON line with the keys of Istio's default JSON access log format, plus
/// `trace_id`, `cold_start`, `grpc_status` for gRPC calls (and `error_detail` when Gatehouse failed the request). Internal failure details
/// stay here and in the log, never in a response.
///
/// Written straight into UTF-8 bytes: this runs once per request, and building a `String` piece by
/// piece cost more than the rest of the request path (docs/performance.md).
enum AccessLogLine {
    static func format(_ record: RequestRecord, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"start_time":""#.utf8)
        appendTimestamp(record.startWallNanos, to: &out)
        out.append(UInt8(ascii: "\""))
        key("method", &out)
        appendJSON(record.method, to: &out)
        key("path", &out)
        appendJSON(record.path.logged, to: &out)
        key("protocol", &out)
        appendJSON(record.httpProtocol, to: &out)
        key("response_code", &out)
        appendInteger(record.responseCode, to: &out)
        if record.isGRPC {
            // Envoy's %GRPC_STATUS_NUMBER%: the call's outcome, which response_code (200) does not say.
            key("grpc_status", &out)
            if let status = record.grpcStatus { appendInteger(status, to: &out) } else { null(&out) }
        }
        key("response_flags", &out)
        appendJSON(record.responseFlags.description, to: &out)
        key("response_code_details", &out)
        if let decision = record.decision, decision.outcome == .deny {
            appendJSON(decision.responseCodeDetails, to: &out)
        } else {
            appendJSON(record.failure.map { $0.code.name } ?? record.replyDetails ?? (record.responseCode == 0 ? "-" : "via_upstream"), to: &out)
        }
        key("bytes_received", &out)
        appendInteger(record.bytesReceived, to: &out)
        key("bytes_sent", &out)
        appendInteger(record.bytesSent, to: &out)
        key("duration", &out)
        appendInteger(Int((record.duration ?? .zero).milliseconds), to: &out)
        key("upstream_service_time", &out)
        if let time = record.upstreamServiceTime { appendInteger(Int(time.milliseconds), to: &out) } else { null(&out) }
        key("x_forwarded_for", &out)
        appendOptionalJSON(record.forwardedFor, to: &out)
        key("user_agent", &out)
        appendOptionalJSON(record.userAgent, to: &out)
        key("request_id", &out)
        appendJSON(record.requestId, to: &out)
        if record.trace.isValid {
            // The trace the request belongs to: `gatehouse trace` and a collector find it by this.
            key("trace_id", &out)
            appendJSON(record.trace.traceId.description, to: &out)
        }
        key("authority", &out)
        appendJSON(record.authority, to: &out)
        key("upstream_host", &out)
        appendOptionalJSON(record.upstreamHost, to: &out)
        key("upstream_cluster", &out)
        if let destination = record.destination {
            out.append(contentsOf: #""inbound|http||"#.utf8)
            appendEscaped(destination.serviceHost, to: &out)
            out.append(UInt8(ascii: "\""))
        } else {
            null(&out)
        }
        key("downstream_remote_address", &out)
        appendOptionalJSON(record.downstreamAddress, to: &out)
        // The VirtualService route that matched; without one, the revision (Knative's route target).
        key("upstream_request_attempt_count", &out)
        out.append(contentsOf: String(record.attempts).utf8)
        key("route_name", &out)
        appendOptionalJSON(record.routeName ?? record.destination?.revision, to: &out)
        key("cold_start", &out)
        out.append(contentsOf: (record.coldStart ? "true" : "false").utf8)
        key("connection_security_policy", &out)
        out.append(contentsOf: (record.peer == nil ? #""none""# : #""mutual_tls""#).utf8)
        if let peer = record.peer {
            // A certificate from outside the mesh's trust domains is not a source principal.
            key(peer.isExternal ? "peer_certificate_uri" : "source_principal", &out)
            appendJSON(peer.uri, to: &out)
        }
        if let jwt = record.jwt {
            // Who the verified token names; never the token itself.
            key("request_principal", &out)
            appendJSON(jwt.principal, to: &out)
        }
        if let decision = record.decision {
            key("authz_decision", &out)
            appendJSON(decision.outcome.rawValue, to: &out)
            key("authz_policy", &out)
            appendOptionalJSON(decision.policy, to: &out)
            key("authz_rule", &out)
            if let rule = decision.rule { appendInteger(rule, to: &out) } else { null(&out) }
            key("authz_reason", &out)
            appendJSON(decision.reason, to: &out)
            if !decision.audited.isEmpty {
                key("authz_audit", &out)
                appendJSON(decision.audited.joined(separator: ","), to: &out)
            }
            if !decision.dryRun.isEmpty {
                key("authz_dry_run", &out)
                appendJSON(decision.dryRun.joined(separator: "; "), to: &out)
            }
        }
        if let failure = record.failure {
            key("error_detail", &out)
            appendJSON(failure.detail, to: &out)
        }
        out.append(contentsOf: "}\n".utf8)
    }

    /// About how many bytes `format` will write for `record`, read before it is formatted (on the
    /// request path: O(1), no formatting). The fixed keys and numbers take about 600 bytes; the rest
    /// is the request's own strings, which escaping can only lengthen, so this is a lower bound that
    /// is close for ordinary requests. Used to bound the access log's buffer in bytes.
    static func estimatedBytes(_ record: RequestRecord) -> Int {
        var bytes = 600 + record.method.utf8.count + record.path.logged.utf8.count
        bytes += record.requestId.utf8.count + record.authority.utf8.count + 45
        bytes += (record.userAgent?.utf8.count ?? 0) + (record.forwardedFor?.utf8.count ?? 0)
        bytes += record.failure?.detail.utf8.count ?? 0
        bytes += record.decision.map { $0.reason.utf8.count + ($0.policy?.utf8.count ?? 0) } ?? 0
        return bytes
    }

    /// `String` convenience (tests, tools): the same line as text.
    static func format(_ record: RequestRecord, into out: inout String) {
        var bytes: [UInt8] = []
        format(record, into: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    private static func key(_ name: StaticString, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: ","))
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    private static func null(_ out: inout [UInt8]) {
        out.append(contentsOf: "null".utf8)
    }

    private static func appendOptionalJSON(_ value: String?, to out: inout [UInt8]) {
        if let value { appendJSON(value, to: &out) } else { null(&out) }
    }

    static func appendJSON(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        appendEscaped(value, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// JSON string escaping on UTF-8 bytes; the common case (nothing to escape) is one copy.
    private static func appendEscaped(_ value: String, to out: inout [UInt8]) {
        var value = value
        value.withUTF8 { bytes in
            if !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
                case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
                case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
                case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
                case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
                case ..<0x20:
                    out.append(contentsOf: #"\u00"#.utf8)
                    out.append(hexDigit(byte >> 4))
                    out.append(hexDigit(byte & 0xF))
                default: out.append(byte)
                }
            }
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    private static func appendInteger(_ value: Int, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            appendInteger(-value, to: &out)
            return
        }
        if value >= 10 { appendInteger(value / 10, to: &out) }
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    private static func appendDigits(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var value = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
            value %= divisor
            divisor /= 10
        }
    }

    /// RFC 3339 in UTC with milliseconds, as Envoy prints `%START_TIME%`.
    static func appendTimestamp(_ nanos: Int64, to out: inout [UInt8]) {
        var seconds = time_t(nanos / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        appendDigits(Int(parts.tm_year) + 1900, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(Int(parts.tm_mon) + 1, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(Int(parts.tm_mday), width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendDigits(Int(parts.tm_hour), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_min), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_sec), width: 2, to: &out)
        out.append(UInt8(ascii: "."))
        appendDigits(Int((nanos / 1_000_000) % 1000), width: 3, to: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// The timestamp as text (tests, tools).
    static func timestamp(_ nanos: Int64) -> String {
        var bytes: [UInt8] = []
        appendTimestamp(nanos, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
