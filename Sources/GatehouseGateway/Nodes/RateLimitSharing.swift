import Foundation
import GatehouseProtection
import GatehouseStore
import Logging
import ServiceLifecycle

/// Shares this node's token buckets with the other nodes of a PostgreSQL mesh: every `interval`
/// it adds what was taken here to the store and subtracts what the others took
/// (`SharedTakeLedger`). Between two exchanges each node decides alone, so the mesh may admit up
/// to what every other node admits in one interval more than the bucket holds; a debt (tokens
/// spent twice) is paid back by the next fills. Concurrency caps stay per node.
final class RateLimitSharing: Service, Sendable {
    static let interval: Duration = .milliseconds(250)
    /// Keys sent per exchange (the most taken first) and counts read: one exchange stays small
    /// however many callers there are; the rest count on this node only.
    static let maxKeys = 10_000
    static let pruneEvery: Duration = .seconds(30)

    let limiters: RateLimiters
    let store: any SharedRateLimits
    let node: String
    let logger: Logger

    init(limiters: RateLimiters, store: any SharedRateLimits, node: String, logger: Logger) {
        self.limiters = limiters
        self.store = store
        self.node = node
        self.logger = logger
    }

    func run() async throws {
        var ledger = SharedTakeLedger()
        var since: Date?
        var failing = false
        var nextPrune = ContinuousClock.now + Self.pruneEvery
        var next = ContinuousClock.now + Self.interval
        while !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { [next] in try await Task.sleep(until: next, clock: .continuous) }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            next = max(next + Self.interval, ContinuousClock.now)
            let buckets = limiters.sharedBuckets()
            guard !buckets.isEmpty else { continue }
            // What was taken here since the last exchange; sent once (a batch the store refuses
            // is not sent again, so it cannot stop every later one).
            let taken = buckets.flatMap { policy, bucket in
                bucket.drainTaken().map { SharedRateTake(policy: policy, key: $0.key, taken: $0.value) }
            }
            let batch = taken.count <= Self.maxKeys ? taken : Array(taken.sorted { $0.taken > $1.taken }.prefix(Self.maxKeys))
            do {
                let read = try await store.exchangeRateTakes(node: node, taken: batch, since: since, limit: Self.maxKeys * 4)
                since = read.next
                if failing { logger.notice("rate limits are shared with the other nodes again") }
                failing = false
                let news = ledger.news(read.counts.map { (SharedTakeLedger.Row(node: $0.node, policy: $0.policy, key: $0.key), $0.total, $0.last) })
                for (taken, count) in news { buckets[taken.policy]?.absorb(taken.key, taken: count) }
            } catch {
                if !failing { logger.warning("rate limits cannot be shared with the other nodes; each node counts alone until they can: \(error)") }
                failing = true
            }
            if ContinuousClock.now >= nextPrune {
                nextPrune = ContinuousClock.now + Self.pruneEvery
                try? await store.pruneRateTakes()
            }
        }
    }
}
