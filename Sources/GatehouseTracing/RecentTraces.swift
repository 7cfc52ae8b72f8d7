import GatehouseCore
import Synchronization

/// The requests Gatehouse keeps to answer `gatehouse trace`, whether or not a collector is
/// configured: the latest `recentCapacity` requests, and apart from them the latest
/// `failedCapacity` that failed or were refused, so a flood of successes never pushes out the one
/// request somebody is looking for. Sampling applies to export only.
///
/// Records are kept as they finished (spans are built when asked for), so keeping one costs a copy
/// under a lock, not the building of its spans.
public final class RecentTraces: Sendable {
    public let recentCapacity: Int
    public let failedCapacity: Int
    private let state: Mutex<State>

    private struct State {
        var recent: Ring
        var failed: Ring
    }

    public init(recentCapacity: Int = 1024, failedCapacity: Int = 256) {
        self.recentCapacity = recentCapacity
        self.failedCapacity = failedCapacity
        state = Mutex(State(recent: Ring(capacity: recentCapacity), failed: Ring(capacity: failedCapacity)))
    }

    /// A request failed when Gatehouse refused or failed it, or the function answered 5xx.
    public static func failed(_ record: RequestRecord) -> Bool {
        record.failure != nil || record.responseCode >= 500 || record.responseCode == 0
    }

    public func add(_ record: RequestRecord) {
        guard record.trace.isValid else { return }
        var kept = record
        kept.onFinish = []  // ran already; closures are not kept alive by the store
        let failed = Self.failed(record)
        state.withLock { state in
            if failed { state.failed.append(kept) } else { state.recent.append(kept) }
        }
    }

    /// Every kept request of the trace `id` names (a trace id, or the request id of one of its
    /// requests), oldest first.
    public func requests(of id: String) -> [RequestRecord] {
        let wanted = id.lowercased()
        return state.withLock { state in
            let all = state.recent.elements + state.failed.elements
            let traceId = all.first { $0.requestId == id }?.trace.traceId.description ?? wanted
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

    /// A fixed-size buffer that overwrites its oldest element.
    private struct Ring {
        let capacity: Int
        var storage: [RequestRecord] = []
        var next = 0

        init(capacity: Int) {
            self.capacity = max(1, capacity)
        }

        mutating func append(_ record: RequestRecord) {
            if storage.count < capacity {
                storage.append(record)
            } else {
                storage[next] = record
            }
            next = (next + 1) % capacity
        }

        var elements: [RequestRecord] { storage }
    }
}
