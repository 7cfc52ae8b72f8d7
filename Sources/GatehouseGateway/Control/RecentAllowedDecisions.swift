import Foundation
import GatehouseStore
import NIOConcurrencyHelpers

/// The last `capacity` plain allows (no AUDIT or dry-run policy involved), in memory, for
/// `explain --request-id`: writing every allowed request's decision to SQLite cost more CPU than
/// the rest of a JWT-checked request (13 µs of 64; docs/performance.md), and an allow is the one
/// decision nobody needs kept across a restart. Denials, audited and dry-run decisions still go to
/// `decisions.db`. `--decision-log-allowed disk` keeps allows there too.
final class RecentAllowedDecisions: Sendable {
    let capacity: Int
    private let ring: NIOLockedValueBox<Ring>

    private struct Ring {
        var entries: [DecisionEntry] = []
        var next = 0
    }

    init(capacity: Int = 4096) {
        precondition(capacity > 0)
        self.capacity = capacity
        ring = NIOLockedValueBox(Ring())
    }

    /// On the event loop: one lock, one slot written (the oldest is overwritten).
    func append(_ entry: DecisionEntry) {
        ring.withLockedValue { ring in
            if ring.entries.count < capacity {
                ring.entries.append(entry)
            } else {
                ring.entries[ring.next] = entry
            }
            ring.next = (ring.next + 1) % capacity
        }
    }

    func decisions(requestId: String) -> [DecisionEntry] {
        ring.withLockedValue { ring in ring.entries.filter { $0.requestId == requestId } }
    }
}

/// What `explain --request-id` reads: the allows kept in memory and everything in `decisions.db`,
/// oldest first (a caller may reuse a request id).
struct DecisionLookup: DecisionLog {
    let stored: any DecisionLog
    let recent: RecentAllowedDecisions

    func record(_ entries: [DecisionEntry]) throws(StoreError) { try stored.record(entries) }

    func decisions(requestId: String) throws(StoreError) -> [DecisionEntry] {
        (recent.decisions(requestId: requestId) + (try stored.decisions(requestId: requestId))).sorted { $0.at < $1.at }
    }

    @discardableResult
    func prune(olderThan date: Date) throws(StoreError) -> Int { try stored.prune(olderThan: date) }

    @discardableResult
    func prune(toFit bounds: DecisionLogBounds) throws(StoreError) -> Int { try stored.prune(toFit: bounds) }
}
