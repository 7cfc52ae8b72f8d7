import Foundation
import GatehouseCore

/// A write whose caller is answered only once it is durable: what `GroupCommit` batches.
/// Everything in it is encoded already (on the caller's thread), so the writer queue only writes.
enum DurableWrite: Sendable {
    case events([PreparedEvent], now: Date)
    case tick(schedule: String, minute: Int64, events: [PreparedEvent], now: Date)
    case call(id: String, request: Data, acceptedAt: Date)
}

enum DurableWriteOutcome: Sendable {
    case accepted
    /// Over the bounds; this write stored nothing.
    case full
    /// A tick: whether this call fired the minute.
    case fired(Bool)
}

/// A `NewEvent` ready to insert: its body encoded once, its triggers as `namespace/name`, each
/// once (a trigger listed twice still gets one delivery).
struct PreparedEvent: Sendable {
    let broker: String
    let eventId: String
    let type: String
    let body: Data
    let triggers: [String]

    init(_ event: NewEvent) {
        broker = event.broker.description
        eventId = event.event.id
        type = event.event.type
        body = EventRowCoding.encode(event.event)
        var seen = Set<String>()
        triggers = event.triggers.map(\.description).filter { seen.insert($0).inserted }
    }

    /// Deliveries and bytes `events` add to the pending totals.
    static func weight(_ events: [PreparedEvent]) -> (pending: Int, bytes: Int) {
        events.reduce((0, 0)) { ($0.0 + $1.triggers.count, $0.1 + $1.body.count) }
    }
}
