import GatehouseCore
import NIOConcurrencyHelpers

/// One policy's counters, kept across config applies while the policy is unchanged (an apply of
/// something else must not refill every bucket).
final class PolicyLimiter: Sendable {
    let policy: RateLimitPolicySpec
    let buckets: TokenBuckets?
    let inFlight: InFlightCounts?

    init(_ policy: RateLimitPolicySpec, shared: Bool = false) {
        self.policy = policy
        buckets = policy.tokenBucket.map { TokenBuckets($0, shared: shared) }
        inFlight = policy.maxConcurrentRequests.map { InFlightCounts(limit: $0) }
    }

    /// What names this policy's bucket to the other nodes: the policy and what its counts mean
    /// (a changed bucket or key starts afresh, as it does on one node).
    var sharedName: String? {
        guard let bucket = policy.tokenBucket else { return nil }
        return "\(policy.namespace)/\(policy.name) \(bucket.maxTokens)/\(bucket.tokensPerFill)/\(bucket.fillInterval.components.seconds)s\(bucket.fillInterval.components.attoseconds / 1_000_000_000)ns \(policy.perCaller.rawValue)"
    }

    /// The key the request counts under: its caller's, or the function's; nil when the policy
    /// does not count it (a per-agent policy and a request no agent made).
    func key(for record: RequestRecord) -> String? {
        switch policy.perCaller {
        case .none: ""
        // An external peer (no principal) counts under its certificate's URI: still one bucket per
        // caller, and `spiffe://…` never collides with a mesh principal.
        case .sourcePrincipal: record.peer.map { $0.principal ?? $0.uri } ?? ""
        case .requestPrincipal: record.jwt?.principal ?? ""
        case .actor: record.jwt?.actors.first
        case .remoteAddress: record.downstreamAddress ?? ""
        }
    }
}

/// Every policy's limiter, by policy; what the request path's stage reads.
public final class RateLimiters: Sendable {
    private let limiters = NIOLockedValueBox<[RateLimitPolicySpec: PolicyLimiter]>([:])
    /// Whether token buckets are shared with other nodes (a mesh on PostgreSQL).
    public let shared: Bool

    public init(shared: Bool = false) {
        self.shared = shared
    }

    /// The token buckets of the current policies, by their shared name.
    public func sharedBuckets() -> [String: TokenBuckets] {
        limiters.withLockedValue { limiters in
            var buckets: [String: TokenBuckets] = [:]
            for limiter in limiters.values {
                if let name = limiter.sharedName, let bucket = limiter.buckets { buckets[name] = bucket }
            }
            return buckets
        }
    }

    /// The limiters for `policies`, reusing those of unchanged ones; others are dropped.
    func retain(_ policies: [RateLimitPolicySpec]) -> [PolicyLimiter] {
        limiters.withLockedValue { limiters in
            var kept: [RateLimitPolicySpec: PolicyLimiter] = [:]
            let result = policies.map { policy in
                let limiter = limiters[policy] ?? PolicyLimiter(policy, shared: shared)
                kept[policy] = limiter
                return limiter
            }
            limiters = kept
            return result
        }
    }
}
