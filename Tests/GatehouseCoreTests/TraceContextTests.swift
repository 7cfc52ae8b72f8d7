import GatehouseCore
import Testing

@Suite("Trace context: W3C traceparent and B3 from the caller, or a new trace")
struct TraceContextTests {
    struct Headers: RequestHeaders {
        var values: [(String, String)]
        init(_ values: [(String, String)]) { self.values = values }
        func first(_ name: String) -> String? { values.first { $0.0.lowercased() == name }?.1 }
        func joined(_ name: String) -> String? {
            let found = values.filter { $0.0.lowercased() == name }.map(\.1)
            return found.isEmpty ? nil : found.joined(separator: ",")
        }
    }

    static func extract(_ headers: [(String, String)]) -> TraceContext {
        var random = SystemRandomNumberGenerator()
        return TraceContext.extract(from: Headers(headers), using: &random)
    }

    @Test("A valid traceparent is continued: same trace, the caller's span as parent, its sampled flag and tracestate")
    func continuesW3C() {
        let context = Self.extract([
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("tracestate", "congo=t61rcWkgMzE"), ("TraceState", "rojo=00f067aa0ba902b7"),
        ])
        #expect(context.traceId.description == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.parentSpanId?.description == "00f067aa0ba902b7")
        #expect(context.spanId.description != "00f067aa0ba902b7")
        #expect(context.callerSampled == true)
        #expect(context.traceState == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", "several tracestate lines are one list")
        #expect(!context.b3)
    }

    @Test("Malformed traceparents start a new trace", arguments: [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 has exactly four fields
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // version ff is invalid
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero parent id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // upper case
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",         // short trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01,00-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b7-01",
    ])
    func rejectsMalformed(value: String) {
        let context = Self.extract([("traceparent", value), ("tracestate", "a=b")])
        #expect(context.parentSpanId == nil)
        #expect(context.traceState == nil, "tracestate without a valid traceparent is dropped")
        #expect(context.traceId.isValid)
    }

    @Test("A later version's traceparent keeps its first four fields")
    func laterVersion() {
        let context = Self.extract([("traceparent", "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")])
        #expect(context.traceId.description == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.callerSampled == true)
    }

    @Test("B3 single and multi headers are read, and remembered so B3 is sent on")
    func b3() {
        let single = Self.extract([("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")])
        #expect(single.traceId.description == "80f198ee56343ba864fe8b2a57d3eff7")
        #expect(single.parentSpanId?.description == "e457b5a2e4d86bd1")
        #expect(single.callerSampled == true && single.b3)
        let multi = Self.extract([("X-B3-TraceId", "463ac35c9f6413ad"), ("X-B3-SpanId", "a2fb4a1d1a96d312"), ("X-B3-Sampled", "0")])
        #expect(multi.traceId.description == "0000000000000000463ac35c9f6413ad", "a 64-bit B3 id is the trace id's low half")
        #expect(multi.callerSampled == false && multi.b3)
        let decisionOnly = Self.extract([("b3", "0")])
        #expect(decisionOnly.parentSpanId == nil && decisionOnly.callerSampled == false)
    }

    @Test("Oversized or unprintable tracestate is dropped whole")
    func traceStateBounds() {
        let parent = ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
        #expect(Self.extract([parent, ("tracestate", String(repeating: "a", count: 600))]).traceState == nil)
        #expect(Self.extract([parent, ("tracestate", "a=b\u{7}")]).traceState == nil)
    }

    @Test("Sampling: the caller's decision wins; otherwise the trace id decides, alike on every hop")
    func sampling() {
        var caller = TraceContext(traceId: TraceID(high: 1, low: UInt64.max), spanId: SpanID(2), callerSampled: true)
        let callerDecision = caller.decideSampling(percentage: 0)
        #expect(callerDecision)
        var low = TraceContext(traceId: TraceID(high: 1, low: 5), spanId: SpanID(2))
        let lowDecision = low.decideSampling(percentage: 1)
        #expect(lowDecision)
        #expect(low.traceparent(parent: SpanID(0xab)) == "00-00000000000000010000000000000005-00000000000000ab-01")
        var high = TraceContext(traceId: TraceID(high: 1, low: (UInt64(1) << 56) - 1), spanId: SpanID(2))
        let highDecision = high.decideSampling(percentage: 99.9)
        #expect(!highDecision)
        let again = high.decideSampling(percentage: 100)
        #expect(again == false, "decided once")
    }

    @Test("Child span ids are distinct and never zero")
    func childIds() {
        let parent = SpanID(42)
        let children = Set((1...10_000).map { parent.child(UInt64($0)).value })
        #expect(children.count == 10_000)
        #expect(!children.contains(0))
    }
}
