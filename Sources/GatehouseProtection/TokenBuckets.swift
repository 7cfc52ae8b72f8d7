import GatehouseCore
import Synchronization

/// Envoy's local rate limit token bucket, one per key (a function, or a caller of it): it starts
/// full with `maxTokens`; every `fillInterval`, `tokensPerFill` come back, up to `maxTokens`; a
/// request takes one, and none left is a refusal.
///
/// At most `maxKeys` buckets are kept. A full bucket is the same as no bucket, so making room drops
/// full ones and loses nothing; if every kept bucket is in use, new callers share one overflow bucket.
/// Room is looked for at most once per `fillInterval` (buckets fill no faster), so callers churning
/// keys cannot make every request scan the table.
///
/// **Shared across nodes** (`shared`): what this node takes is also counted per key for
/// `drainTaken`, and what other nodes took is subtracted with `absorb` — down to `-maxTokens`, a
/// debt later fills pay off first, so nodes that each spent the same tokens before hearing of one
/// another give them back instead of each admitting a full rate (`RateLimitSharing`).
public final class TokenBuckets: Sendable {
    public struct Outcome: Sendable {
        public let allowed: Bool
        public let remaining: Int
        /// Until the next fill.
        public let resetIn: Duration
    }

    private struct Bucket {
        var tokens: Int
        var lastFill: ContinuousClock.Instant
    }

    static let maxKeys = 100_000
    static let overflowKey = "\u{0}overflow"

    public let spec: RateLimitPolicySpec.TokenBucket
    private struct State {
        var buckets: [String: Bucket] = [:]
        var lastRoomSearch: ContinuousClock.Instant?
        /// Tokens taken here per key since the last `drainTaken` (only when shared).
        var taken: [String: Int] = [:]
    }

    private let state = Mutex(State())
    /// Whether takes are counted for other nodes.
    public let shared: Bool

    public init(_ spec: RateLimitPolicySpec.TokenBucket, shared: Bool = false) {
        self.spec = spec
        self.shared = shared
    }

    public func take(_ key: String, now: ContinuousClock.Instant = .now) -> Outcome {
        state.withLock { state in
            var key = key
            if state.buckets[key] == nil, state.buckets.count >= Self.maxKeys {
                if state.lastRoomSearch.map({ now - $0 >= spec.fillInterval }) ?? true {
                    state.lastRoomSearch = now
                    state.buckets = state.buckets.filter { refilled($0.value, now: now).tokens < spec.maxTokens }
                }
                if state.buckets.count >= Self.maxKeys { key = Self.overflowKey }
            }
            var bucket = refilled(state.buckets[key] ?? Bucket(tokens: spec.maxTokens, lastFill: now), now: now)
            let allowed = bucket.tokens > 0
            if allowed {
                bucket.tokens -= 1
                if shared { state.taken[key, default: 0] += 1 }
            }
            state.buckets[key] = bucket
            return Outcome(allowed: allowed, remaining: max(0, bucket.tokens), resetIn: spec.fillInterval - (now - bucket.lastFill))
        }
    }

    /// The tokens taken here per key since the last call (the overflow bucket's under its key).
    public func drainTaken() -> [String: Int] {
        state.withLock { state in
            defer { state.taken = [:] }
            return state.taken
        }
    }

    /// Subtracts tokens other nodes took for `key`, down to a debt of `maxTokens`. A key this node
    /// has no bucket for starts from a full one; past `maxKeys` it is left out (a node that never
    /// saw the caller keeps no bucket for it, at the cost of admitting its first requests).
    public func absorb(_ key: String, taken: Int, now: ContinuousClock.Instant = .now) {
        guard taken > 0 else { return }
        state.withLock { state in
            guard state.buckets[key] != nil || state.buckets.count < Self.maxKeys else { return }
            var bucket = refilled(state.buckets[key] ?? Bucket(tokens: spec.maxTokens, lastFill: now), now: now)
            bucket.tokens = max(-spec.maxTokens, bucket.tokens - taken)
            state.buckets[key] = bucket
        }
    }

    /// What `take` would find, without taking: for `explain`.
    public func peek(_ key: String, now: ContinuousClock.Instant = .now) -> Outcome {
        state.withLock { state in
            let bucket = refilled(state.buckets[key] ?? state.buckets[Self.overflowKey].flatMap { state.buckets.count >= Self.maxKeys ? $0 : nil }
                ?? Bucket(tokens: spec.maxTokens, lastFill: now), now: now)
            return Outcome(allowed: bucket.tokens > 0, remaining: max(0, bucket.tokens), resetIn: spec.fillInterval - (now - bucket.lastFill))
        }
    }

    /// The bucket with the fills due since its last one.
    private func refilled(_ bucket: Bucket, now: ContinuousClock.Instant) -> Bucket {
        let elapsed = now - bucket.lastFill
        guard elapsed >= spec.fillInterval else { return bucket }
        let fills = Int(elapsed / spec.fillInterval)
        var bucket = bucket
        bucket.tokens = min(spec.maxTokens, bucket.tokens + fills * spec.tokensPerFill)
        bucket.lastFill = bucket.lastFill + spec.fillInterval * fills
        return bucket
    }
}

/// Requests in flight per key, with a ceiling; a key at zero is forgotten.
final class InFlightCounts: Sendable {
    let limit: Int
    private let counts = Mutex<[String: Int]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    func enter(_ key: String) -> Bool {
        counts.withLock { counts in
            let current = counts[key, default: 0]
            guard current < limit else { return false }
            counts[key] = current + 1
            return true
        }
    }

    func current(_ key: String) -> Int {
        counts.withLock { $0[key, default: 0] }
    }

    func leave(_ key: String) {
        counts.withLock { counts in
            let current = counts[key, default: 0]
            counts[key] = current > 1 ? current - 1 : nil
        }
    }
}
