import Foundation
import GatehouseCore
import GatehouseStore
import Logging

/// Fires PingSources: at each scheduled minute, one event (`dev.knative.sources.ping`) into the
/// PingSource's sink, stored together with the minute's fired mark so a minute fires once —
/// across restarts, and across nodes sharing a PostgreSQL event store (whose fired marks are the
/// mesh's: one node's `fire` stores the minute). A minute missed while Gatehouse was down
/// fires late if it is at most `catchUp` old; older ones are skipped, as a cron daemon would.
public final class PingScheduler: Sendable {
    let broker: EventBroker
    let sources: @Sendable () -> (directory: BrokerDirectory, pingSources: [PingSourceSpec])
    let logger: Logger
    /// How late a missed minute may still fire (default 2 minutes).
    let catchUp: TimeInterval

    public static let eventType = "dev.knative.sources.ping"

    public init(
        broker: EventBroker, logger: Logger, catchUp: TimeInterval = 120,
        sources: @escaping @Sendable () -> (directory: BrokerDirectory, pingSources: [PingSourceSpec])
    ) {
        self.broker = broker
        self.logger = logger
        self.catchUp = catchUp
        self.sources = sources
    }

    public func run() async {
        // A source that never fired starts counting when this process first sees it; one that
        // fired before catches up at most `catchUp`.
        var firstSeen: [String: Date] = [:]
        while !Task.isCancelled {
            let (directory, pingSources) = sources()
            let now = broker.now()
            var nextWake = now.addingTimeInterval(1)
            let keys = Set(pingSources.map { "\($0.namespace)/\($0.name)" })
            firstSeen = firstSeen.filter { keys.contains($0.key) }
            for source in pingSources {
                let key = "\(source.namespace)/\(source.name)"
                let lastFired = (try? await broker.store.lastFired(schedule: key)).flatMap { $0 }
                let seen = firstSeen[key] ?? now
                firstSeen[key] = seen
                let from = lastFired.map { max(Date(timeIntervalSince1970: TimeInterval($0 * 60)), now.addingTimeInterval(-catchUp)) } ?? seen
                guard let due = source.nextFire(after: from) else { continue }
                if due <= now {
                    // Fired (or skipped): look again at once for the next minute; failed: in a second.
                    if await fire(source, at: due, key: key, directory: directory) { nextWake = now }
                } else {
                    nextWake = min(nextWake, due)
                }
            }
            let wait = max(0.001, nextWake.timeIntervalSince(broker.now()))
            try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
        }
    }

    /// A minute this node skips is marked passed on its own store; on a shared one it is left
    /// unmarked, as the mark would claim the minute for the whole mesh — and a node whose config is
    /// behind (no Broker yet) must not cost the others their tick.
    private func skip(_ key: String, _ minute: Date) async -> Bool {
        if broker.store.sharedAcrossNodes { return true }
        return (try? await broker.store.fire(schedule: key, minute: Int64(minute.timeIntervalSince1970 / 60), events: [], now: broker.now())) != nil
    }

    /// False when the store failed (the minute is tried again).
    private func fire(_ source: PingSourceSpec, at minute: Date, key: String, directory: BrokerDirectory) async -> Bool {
        guard let sink = directory.broker(for: source) else {
            logger.warning("events: PingSource's sink Broker does not exist; the tick is skipped", metadata: ["pingsource": "\(key)"])
            return await skip(key, minute)
        }
        let event = CloudEvent(
            id: UUID().uuidString.lowercased(), source: source.eventSource, type: Self.eventType, dataContentType: source.data == nil ? nil : (source.contentType ?? "application/json"),
            time: ISO8601DateFormatter().string(from: minute), extensions: source.extensions, data: source.data)
        let prepared: [NewEvent]
        switch broker.prepare([event], to: sink, in: directory, from: .source(kind: "PingSource", namespace: source.namespace, name: source.name), traceparent: nil) {
        case .success(let events): prepared = events
        case .failure(let refusal):
            logger.warning("events: an EventPolicy refuses the PingSource's events; the tick is skipped", metadata: ["pingsource": "\(key)", "reason": "\(refusal)"])
            return await skip(key, minute)
        }
        do {
            if try await broker.store.fire(schedule: key, minute: Int64(minute.timeIntervalSince1970 / 60), events: prepared, now: broker.now()) {
                broker.wakeup.signal()
            }
            return true
        } catch {
            logger.error("events: storing a PingSource's tick failed; it is tried again", metadata: ["pingsource": "\(key)", "error": "\(error)"])
            return false
        }
    }
}
