/// Where one request sits in a distributed trace: the trace it belongs to, the gateway's span for it
/// (kind SERVER), and the caller's span and sampling decision when the caller sent them.
///
/// Taken from the caller's `traceparent`/`tracestate` (W3C Trace Context) or B3 headers at the
/// front, or started there; child spans (an upstream attempt, a cold start) derive their ids from
/// `spanId`, so the forwarder names them without drawing random numbers.
public struct TraceContext: Sendable {
    public var traceId: TraceID
    /// The gateway's span for this request.
    public var spanId: SpanID
    /// The caller's span, when it sent one.
    public var parentSpanId: SpanID?
    /// The caller's sampling decision (`traceparent` flags, `x-b3-sampled`), which Gatehouse honours.
    public var callerSampled: Bool?
    /// The caller's `tracestate`, passed on unchanged.
    public var traceState: String?
    /// The caller sent trace headers (valid or not): they are removed before Gatehouse's are added.
    public var callerSentHeaders = false
    /// The caller spoke B3: the function is sent B3 headers too, so a B3-only application propagates.
    public var b3 = false
    /// A mirror's copy: its record is not observed, so the function is told `spanId` (the original's
    /// mirror span) as its parent rather than an attempt span nobody reports.
    public var isMirror = false
    /// Whether this request's spans are exported; decided once (see `decideSampling`).
    public private(set) var sampled: Bool?

    public init(traceId: TraceID, spanId: SpanID, parentSpanId: SpanID? = nil, callerSampled: Bool? = nil, traceState: String? = nil) {
        self.traceId = traceId
        self.spanId = spanId
        self.parentSpanId = parentSpanId
        self.callerSampled = callerSampled
        self.traceState = traceState
    }

    /// A record that belongs to no trace (an `explain` run).
    public static let none = TraceContext(traceId: .zero, spanId: SpanID(1))
    public var isValid: Bool { traceId.isValid }

    /// The context of a copy sent to a mirror under the span `mirror` of this request.
    public func mirrored(as mirror: SpanID) -> TraceContext {
        var copy = self
        copy.parentSpanId = spanId
        copy.spanId = mirror
        copy.isMirror = true
        return copy
    }

    /// A new trace, started here.
    public static func start(using generator: inout some RandomNumberGenerator) -> TraceContext {
        TraceContext(traceId: .random(using: &generator), spanId: SpanID(generator.next()))
    }

    /// The caller's decision when it made one; otherwise `percentage` of traces, chosen by the trace
    /// id (as OpenTelemetry's ratio sampler does), so every hop of one trace decides alike.
    @discardableResult
    public mutating func decideSampling(percentage: Double) -> Bool {
        if let sampled { return sampled }
        let decision: Bool
        if let callerSampled {
            decision = callerSampled
        } else if percentage >= 100 {
            decision = true
        } else if percentage <= 0 {
            decision = false
        } else {
            let bound = UInt64(percentage / 100 * Double(UInt64(1) << 56))
            decision = traceId.low & ((UInt64(1) << 56) - 1) < bound
        }
        sampled = decision
        return decision
    }

    /// The `traceparent` value naming `span` as the parent of whatever the receiver does.
    public func traceparent(parent span: SpanID) -> String {
        // Written in place: this runs for every forwarded request.
        String(unsafeUninitializedCapacity: 55) { out in
            out[0] = UInt8(ascii: "0")
            out[1] = UInt8(ascii: "0")
            out[2] = UInt8(ascii: "-")
            Hex.write(traceId.high, into: out, at: 3)
            Hex.write(traceId.low, into: out, at: 19)
            out[35] = UInt8(ascii: "-")
            Hex.write(span.value, into: out, at: 36)
            out[52] = UInt8(ascii: "-")
            out[53] = UInt8(ascii: "0")
            out[54] = sampled == true ? UInt8(ascii: "1") : UInt8(ascii: "0")
            return 55
        }
    }
}
