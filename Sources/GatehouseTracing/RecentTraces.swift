import GatehouseCore
import NIOCore
import Synchronization

/// The requests Gatehouse keeps to answer `gatehouse trace`, whether or not a collector is
/// configured: the latest `recentCapacity` requests, and apart from them the latest
/// `failedCapacity` that failed or were refused, so a flood of successes never pushes out the one
/// request somebody is looking for. Sampling applies to export only.
///
/// Bounded in count and in bytes (a record holds the request's path, authority, user agent, …,
/// each up to the header limit): past `maxBytes` for a buffer, its oldest records go first.
/// Records are kept as they finished (spans are built when asked for), so keeping one costs a copy
/// under a lock, not the building of its spans.
public final class RecentTraces: Sendable {
    public let recentCapacity: Int
    public let failedCapacity: Int
    private let state: Mutex<State>

    private struct State {
        var recent: Buffer
        var failed: Buffer
    }

    public init(recentCapacity: Int = 1024, failedCapacity: Int = 256, maxBytes: Int = 8 << 20) {
        self.recentCapacity = recentCapacity
        self.failedCapacity = failedCapacity
        state = Mutex(State(
            recent: Buffer(capacity: recentCapacity, maxBytes: maxBytes), failed: Buffer(capacity: failedCapacity, maxBytes: maxBytes / 2)))
    }

    /// A request failed when Gatehouse refused or failed it, or the function answered 5xx.
    public static func failed(_ record: RequestRecord) -> Bool {
        record.failure != nil || record.responseCode >= 500 || record.responseCode == 0
    }

    /// About how many bytes a kept record holds: its strings, which the request controls.
    static func estimatedBytes(_ record: RequestRecord) -> Int {
        var bytes = 512 + record.path.value.utf8.count + (record.path.redacted?.utf8.count ?? 0) + (record.path.beforeRewrite?.utf8.count ?? 0)
        bytes += record.requestId.utf8.count + record.authority.utf8.count * 2
        bytes += (record.userAgent?.utf8.count ?? 0) + (record.forwardedFor?.utf8.count ?? 0) + (record.trace.traceState?.utf8.count ?? 0)
        bytes += (record.failure?.detail.utf8.count ?? 0) + (record.decision?.reason.utf8.count ?? 0)
        return bytes + record.spans.count * 96
    }

    public func add(_ record: RequestRecord) {
        guard record.trace.isValid else { return }
        // Closures that ran already are not kept alive by the store. The gateway's observers
        // empty them before this (`ReleaseStageHolds`), so the record is copied once, into the buffer.
        guard record.onFinish.isEmpty else {
            var kept = record
            kept.onFinish = []
            return add(kept)
        }
        let failed = Self.failed(record)
        let bytes = Self.estimatedBytes(record)
        state.withLock { state in
            if failed { state.failed.append(record, bytes: bytes) } else { state.recent.append(record, bytes: bytes) }
        }
    }

    /// Every kept request of the trace `id` names — a trace id (32 hex digits), or else the request
    /// id of one of its requests — oldest first.
    public func requests(of id: String) -> [RequestRecord] {
        let asTraceId = id.utf8.count == 32 ? TraceID(hex: id.lowercased())?.description : nil
        return state.withLock { state in
            let all = state.recent.elements + state.failed.elements
            // A trace id is matched as one first: a caller choosing an X-Request-Id cannot shadow it.
            guard let traceId = asTraceId ?? all.first(where: { $0.requestId == id })?.trace.traceId.description else { return [] }
            return all.filter { $0.trace.traceId.description == traceId }.sorted { $0.startWallNanos < $1.startWallNanos }
        }
    }

    /// Kept requests, newest first: those slower than `slowerThan`, or only failed ones.
    public func list(slowerThan: Duration? = nil, failedOnly: Bool = false, limit: Int = 50) -> [RequestRecord] {
        state.withLock { state in
            let candidates = failedOnly ? state.failed.elements : state.recent.elements + state.failed.elements
            return candidates
                .filter { record in slowerThan.map { (record.duration ?? .zero) >= $0 } ?? true }
                .sorted { $0.startWallNanos > $1.startWallNanos }
                .prefix(limit)
                .map { $0 }
        }
    }

    /// Oldest first out, bounded by count and by estimated bytes: a ring of slots, so that keeping a
    /// record copies it once and overwrites the one it pushes out in place (`CircularBuffer` would
    /// copy the evicted record once more to hand it back).
    private struct Buffer {
        let capacity: Int
        let maxBytes: Int
        private var slots: [RequestRecord?] = []
        private var sizes: [Int] = []
        private var first = 0
        private var count = 0
        private var bytes = 0

        init(capacity: Int, maxBytes: Int) {
            self.capacity = max(1, capacity)
            self.maxBytes = maxBytes
        }

        mutating func append(_ record: RequestRecord, bytes size: Int) {
            if count == capacity { forgetOldest(release: false) }  // its slot is overwritten below
            let slot = (first + count) % capacity
            if slot == slots.count {
                slots.append(record)
                sizes.append(size)
            } else {
                slots[slot] = record
                sizes[slot] = size
            }
            count += 1
            bytes += size
            while bytes > maxBytes, count > 1 { forgetOldest(release: true) }
        }

        private mutating func forgetOldest(release: Bool) {
            bytes -= sizes[first]
            if release { slots[first] = nil }
            first = (first + 1) % capacity
            count -= 1
        }

        var elements: [RequestRecord] {
            (0..<count).compactMap { slots[(first + $0) % capacity] }
        }
    }
}
