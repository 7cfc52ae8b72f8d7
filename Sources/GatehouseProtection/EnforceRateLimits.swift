import GatehouseCore

/// ⑤ Protection: the RateLimitPolicies of the routed function. A request over a policy's cap on
/// requests in flight, or finding its token bucket empty, is refused with 429 (flag `RL`),
/// `Retry-After` and Envoy's `x-ratelimit-*` headers; the headers are also on allowed responses.
/// Runs after authorization, so refused callers spend nothing.
public struct EnforceRateLimits: RequestStage {
    private let byFunction: [FunctionKey: [PolicyLimiter]]
    public var name: StageName { .rateLimit }

    public init(policies: [RateLimitPolicySpec], functions: [FunctionSpec], limiters: RateLimiters) {
        let all = limiters.retain(policies)
        var byFunction: [FunctionKey: [PolicyLimiter]] = [:]
        for function in functions {
            let applying = all.filter { $0.policy.applies(to: function) }.sorted { $0.policy.name < $1.policy.name }
            if !applying.isEmpty { byFunction[function.key] = applying }
        }
        self.byFunction = byFunction
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        guard let key = record.destination?.key, let limiters = byFunction[key] else { return .proceed }
        for limiter in limiters {
            if !limiter.policy.routes.isEmpty, !limiter.policy.routes.contains(record.routeName ?? "") { continue }
            guard let caller = limiter.key(for: record) else { continue }
            if let inFlight = limiter.inFlight {
                guard inFlight.enter(caller) else {
                    record.responseFlags.insert(.rateLimited)
                    return .reject(GatehouseError(
                        .concurrencyLimited, detail: "\(limiter.policy.reference): \(inFlight.limit) requests of this caller already in flight",
                        retryAfter: .seconds(1)))
                }
                record.onFinish.append { inFlight.leave(caller) }
            }
            guard let buckets = limiter.buckets else { continue }
            let outcome = buckets.take(caller)
            let headers = Self.headers(buckets.spec, outcome)
            guard outcome.allowed else {
                record.responseFlags.insert(.rateLimited)
                return .reject(GatehouseError(
                    .rateLimited, detail: "\(limiter.policy.reference): token bucket empty", retryAfter: outcome.resetIn, headers: headers))
            }
            for (name, value) in headers { record.responseHeaders.setHeader(name, value) }
        }
        return .proceed
    }

    /// Evaluated without spending: each applying policy's bucket (`tokens` left for this caller,
    /// `maxTokens`) and in-flight count, and the verdict the next request would get.
    public func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation {
        guard let key = record.destination?.key, let limiters = byFunction[key] else {
            return StageExplanation(.proceed, note: "no RateLimitPolicy applies")
        }
        var policies: [DetailValue] = []
        var notes: [String] = []
        for limiter in limiters {
            var entry: [String: DetailValue] = ["policy": .string(limiter.policy.reference)]
            if !limiter.policy.routes.isEmpty, !limiter.policy.routes.contains(record.routeName ?? "") {
                entry["applies"] = .bool(false)
                policies.append(.object(entry))
                continue
            }
            guard let caller = limiter.key(for: record) else {
                entry["applies"] = .bool(false)
                policies.append(.object(entry))
                continue
            }
            entry["key"] = .string(caller.isEmpty ? "(function)" : caller)
            if let inFlight = limiter.inFlight {
                let current = inFlight.current(caller)
                entry["inFlight"] = .int(current)
                entry["maxInFlight"] = .int(inFlight.limit)
                if current >= inFlight.limit {
                    policies.append(.object(entry))
                    record.responseFlags.insert(.rateLimited)
                    return StageExplanation(.reject(GatehouseError(
                        .concurrencyLimited, detail: "\(limiter.policy.reference): \(inFlight.limit) requests of this caller already in flight",
                        retryAfter: .seconds(1))), details: ["policies": .list(policies)])
                }
            }
            if let buckets = limiter.buckets {
                let outcome = buckets.peek(caller)
                entry["tokens"] = .int(outcome.remaining)
                entry["maxTokens"] = .int(buckets.spec.maxTokens)
                if !outcome.allowed {
                    policies.append(.object(entry))
                    record.responseFlags.insert(.rateLimited)
                    return StageExplanation(.reject(GatehouseError(
                        .rateLimited, detail: "\(limiter.policy.reference): token bucket empty", retryAfter: outcome.resetIn,
                        headers: Self.headers(buckets.spec, outcome))), details: ["policies": .list(policies)])
                }
                notes.append("\(limiter.policy.reference): \(outcome.remaining) of \(buckets.spec.maxTokens) tokens left")
            }
            policies.append(.object(entry))
        }
        return StageExplanation(.proceed, note: notes.isEmpty ? "under every limit" : notes.joined(separator: "; ") + " (explain spends none)",
                                details: ["policies": .list(policies)])
    }

    /// `x-ratelimit-limit`, `-remaining` and `-reset` (seconds to the next fill, rounded up).
    static func headers(_ spec: RateLimitPolicySpec.TokenBucket, _ outcome: TokenBuckets.Outcome) -> [(name: String, value: String)] {
        let reset = max(1, (outcome.resetIn.nanosecondsClamped + 999_999_999) / 1_000_000_000)
        return [("x-ratelimit-limit", "\(spec.maxTokens)"), ("x-ratelimit-remaining", "\(outcome.remaining)"), ("x-ratelimit-reset", "\(reset)")]
    }
}
