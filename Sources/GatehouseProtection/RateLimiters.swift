import GatehouseCore
import NIOConcurrencyHelpers

/// One policy's counters, kept across config applies while the policy is unchanged (an apply of
/// something else must not refill every bucket).
final class PolicyLimiter: Sendable {
    let policy: RateLimitPolicySpec
    let buckets: TokenBuckets?
    let inFlight: InFlightCounts?

    init(_ policy: RateLimitPolicySpec) {
        self.policy = policy
        buckets = policy.tokenBucket.map(TokenBuckets.init)
        inFlight = policy.maxConcurrentRequests.map { InFlightCounts(limit: $0) }
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

    public init() {}

    /// The limiters for `policies`, reusing those of unchanged ones; others are dropped.
    func retain(_ policies: [RateLimitPolicySpec]) -> [PolicyLimiter] {
        limiters.withLockedValue { limiters in
            var kept: [RateLimitPolicySpec: PolicyLimiter] = [:]
            let result = policies.map { policy in
                let limiter = limiters[policy] ?? PolicyLimiter(policy)
                kept[policy] = limiter
                return limiter
            }
            limiters = kept
            return result
        }
    }
}
