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
        var unsent: [SharedTakeLedger.Taken: Int] = [:]
        var failing = false
        var nextPrune = ContinuousClock.now + Self.pruneEvery
        var next = ContinuousClock.now + Self.interval
        while !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { [next] in try await Task.sleep(until: next, clock: .continuous) }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            next = max(next + Self.interval, ContinuousClock.now)
            let buckets = limiters.sharedBuckets()
            guard !buckets.isEmpty else { continue }
            for (policy, bucket) in buckets {
                for (key, taken) in bucket.drainTaken() { unsent[.init(policy: policy, key: key), default: 0] += taken }
            }
            let batch = unsent.sorted { $0.value > $1.value }.prefix(Self.maxKeys)
                .map { SharedRateTake(policy: $0.key.policy, key: $0.key.key, taken: $0.value) }
            do {
                let counts = try await store.exchangeRateTakes(node: node, taken: batch, limit: Self.maxKeys * 4)
                unsent = [:]
                if failing { logger.notice("rate limits are shared with the other nodes again") }
                failing = false
                let news = ledger.news(counts.map { (SharedTakeLedger.Row(node: $0.node, policy: $0.policy, key: $0.key), $0.total, $0.last) })
                for (taken, count) in news { buckets[taken.policy]?.absorb(taken.key, taken: count) }
            } catch {
                // Kept for the next exchange, as long as it stays within bounds.
                if unsent.count > Self.maxKeys { unsent = [:] }
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
