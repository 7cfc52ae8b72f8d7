import GatehouseCore
import Testing
@testable import GatehouseTracing

@Suite("The trace store: bounded in count and bytes, failures kept apart, trace ids not shadowed")
struct RecentTracesTests {
    static func record(_ id: String, trace: TraceID, code: Int = 200, path: String = "/") -> RequestRecord {
        var record = RequestRecord(
            requestId: id, startWallNanos: Int64(id.hashValue & 0xFFFF), start: .now, method: "GET", path: path,
            httpProtocol: "HTTP/1.1", authority: "fn.default.localhost")
        record.trace = TraceContext(traceId: trace, spanId: SpanID(UInt64(id.utf8.count) + 7))
        record.responseCode = code
        return record
    }

    @Test("Successes never push out failures")
    func failuresApart() {
        let store = RecentTraces(recentCapacity: 4, failedCapacity: 2)
        store.add(Self.record("bad", trace: TraceID(high: 9, low: 9), code: 503))
        for n in 0..<100 { store.add(Self.record("ok\(n)", trace: TraceID(high: 1, low: UInt64(n + 1)))) }
        #expect(store.requests(of: "bad").count == 1)
        #expect(store.list().count == 5, "4 recent + 1 failed")
        #expect(store.requests(of: "ok0").isEmpty, "the oldest success went first")
    }

    @Test("A request id chosen to look like someone's trace id does not shadow that trace")
    func traceIdFirst() {
        let store = RecentTraces()
        let victim = TraceID(high: 0x1111, low: 0x2222)
        store.add(Self.record("v", trace: victim))
        store.add(Self.record(victim.description, trace: TraceID(high: 0x3333, low: 0x4444)))
        let found = store.requests(of: victim.description)
        #expect(found.map(\.requestId) == ["v"])
    }

    @Test("Large requests are kept within the byte budget, oldest first out")
    func byteBound() {
        let store = RecentTraces(recentCapacity: 1_000, failedCapacity: 10, maxBytes: 200_000)
        let long = "/" + String(repeating: "a", count: 50_000)
        for n in 0..<20 { store.add(Self.record("r\(n)", trace: TraceID(high: 2, low: UInt64(n + 1)), path: long)) }
        let kept = store.list(limit: 1_000)
        #expect(kept.count < 5 && !kept.isEmpty, "\(kept.count) kept")
        #expect(!store.requests(of: "r19").isEmpty, "the newest is kept")
    }

    @Test("The newest requests are kept however often the ring wraps, with large ones pushed out by bytes between")
    func ringKeepsNewest() {
        let (capacity, maxBytes) = (5, 60_000)
        let store = RecentTraces(recentCapacity: capacity, failedCapacity: 1, maxBytes: maxBytes)
        var model: [(id: String, bytes: Int)] = []
        for n in 0..<41 {
            let record = Self.record("q\(n)", trace: TraceID(high: 3, low: UInt64(n + 1)), path: n % 7 == 3 ? "/" + String(repeating: "b", count: 25_000) : "/")
            store.add(record)
            model.append((record.requestId, RecentTraces.estimatedBytes(record)))
            while model.count > capacity || (model.map(\.bytes).reduce(0, +) > maxBytes && model.count > 1) { model.removeFirst() }
            #expect(Set(store.list(limit: 100).map(\.requestId)) == Set(model.map(\.id)), "after q\(n)")
        }
    }

    @Test("What a request held until it finished (its onFinish closures) is not kept alive by the store")
    func closuresNotKept() {
        final class Held: Sendable {}
        let store = RecentTraces()
        weak var weakHeld: Held?
        do {
            let held = Held()
            weakHeld = held
            var record = Self.record("held", trace: TraceID(high: 4, low: 4))
            record.onFinish = [{ _ = held }]
            store.add(record)
        }
        #expect(weakHeld == nil)
        #expect(store.requests(of: "held").count == 1)
    }
}
