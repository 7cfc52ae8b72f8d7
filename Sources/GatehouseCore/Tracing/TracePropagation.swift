/// Reading a caller's trace context: W3C Trace Context first (`traceparent`, `tracestate`), then B3
/// single (`b3`) and multi (`x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, `x-b3-flags`) headers, as
/// Istio's proxies accept. Anything malformed is ignored and a new trace starts: a caller cannot make
/// Gatehouse fail, only decline to be joined.
extension TraceContext {
    /// The header names Gatehouse reads and sets; a caller's copies never reach the function as sent.
    public static let headerNames = ["traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags"]
    /// `tracestate` longer than this is dropped (W3C asks vendors to pass on at least 512 characters).
    public static let maxTraceStateLength = 512

    /// The caller's context continued by a new span of the gateway's, or a new trace.
    public static func extract(from headers: some RequestHeaders, using generator: inout some RandomNumberGenerator) -> TraceContext {
        let span = SpanID(generator.next())
        // Most requests carry none: one pass, then a new trace.
        guard headers.containsAny(of: headerNames) else {
            return TraceContext(traceId: .random(using: &generator), spanId: span)
        }
        var context = continued(from: headers, span: span, using: &generator)
        context.callerSentHeaders = true
        return context
    }

    private static func continued(from headers: some RequestHeaders, span: SpanID, using generator: inout some RandomNumberGenerator) -> TraceContext {
        if let parent = headers.joined("traceparent"), var context = w3c(parent, span: span) {
            context.traceState = headers.joined("tracestate").flatMap(acceptedTraceState)
            return context
        }
        if let single = headers.first("b3"), var context = b3Single(single, span: span) {
            context.b3 = true
            return context
        }
        if let traceId = headers.first("x-b3-traceid").flatMap({ TraceID(hex: $0) }),
           let parent = headers.first("x-b3-spanid").flatMap({ SpanID(hex: $0) }) {
            var context = TraceContext(traceId: traceId, spanId: span, parentSpanId: parent)
            context.callerSampled = headers.first("x-b3-flags") == "1" ? true : headers.first("x-b3-sampled").flatMap(b3Sampled)
            context.b3 = true
            return context
        }
        var context = TraceContext(traceId: .random(using: &generator), spanId: span)
        // B3's sampling-only forms ("b3: 0", "x-b3-sampled: 1") still carry a decision.
        context.callerSampled = headers.first("b3").flatMap(b3Sampled) ?? headers.first("x-b3-sampled").flatMap(b3Sampled)
        return context
    }

    /// `version-traceid-parentid-flags`; versions after 00 may append fields, which are ignored.
    static func w3c(_ value: String, span: SpanID) -> TraceContext? {
        let text = value.trimmingSpaces
        let utf8 = Array(text.utf8)
        guard utf8.count >= 55, !utf8.contains(UInt8(ascii: ",")),
              utf8[2] == UInt8(ascii: "-"), utf8[35] == UInt8(ascii: "-"), utf8[52] == UInt8(ascii: "-"),
              let version = Hex.value(utf8[0..<2]), version != 0xFF,
              version != 0 || utf8.count == 55, utf8.count == 55 || utf8[55] == UInt8(ascii: "-"),
              let high = Hex.value(utf8[3..<19]), let low = Hex.value(utf8[19..<35]),
              let parent = Hex.value(utf8[36..<52]), parent != 0,
              let flags = Hex.value(utf8[53..<55])
        else { return nil }
        let traceId = TraceID(high: high, low: low)
        guard traceId.isValid else { return nil }
        return TraceContext(traceId: traceId, spanId: span, parentSpanId: SpanID(parent), callerSampled: flags & 1 == 1)
    }

    /// `{traceid}-{spanid}[-{sampling}[-{parentspanid}]]`; a lone sampling state carries no ids.
    static func b3Single(_ value: String, span: SpanID) -> TraceContext? {
        let fields = value.trimmingSpaces.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count >= 2, fields.count <= 4, let traceId = TraceID(hex: fields[0]), let parent = SpanID(hex: fields[1])
        else { return nil }
        var context = TraceContext(traceId: traceId, spanId: span, parentSpanId: parent)
        if fields.count >= 3 { context.callerSampled = b3Sampled(String(fields[2])) }
        return context
    }

    /// B3's sampling states: `1`/`true` and `d` (debug) sample, `0`/`false` do not.
    static func b3Sampled(_ value: String) -> Bool? {
        switch value.trimmingSpaces.lowercased() {
        case "1", "true", "d": true
        case "0", "false": false
        default: nil
        }
    }

    /// Passed on as sent when it is short and printable; otherwise dropped (never half-trimmed).
    static func acceptedTraceState(_ value: String) -> String? {
        let text = value.trimmingSpaces
        guard !text.isEmpty, text.utf8.count <= maxTraceStateLength, text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
        else { return nil }
        return text
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        let utf8 = self.utf8
        guard let first = utf8.firstIndex(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }),
              let last = utf8.lastIndex(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") })
        else { return "" }
        if first == utf8.startIndex && last == utf8.index(before: utf8.endIndex) { return self }
        return String(self[first...last])
    }
}
