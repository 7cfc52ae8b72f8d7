import GatehouseCore

/// Decodes a `gatehouse.dev/v1` `RateLimitPolicy` strictly: at least a token bucket or a
/// concurrency cap; positive numbers; `tokensPerFill` at most `maxTokens`; a known `perCaller`.
enum RateLimitPolicyDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> RateLimitPolicySpec {
        var policy = RateLimitPolicySpec(namespace: envelope.namespace, name: envelope.name, source: envelope.location)
        defer { envelope.root.reportUnknownKeys() }
        guard let spec = envelope.root.required("spec", fix: "add `spec:` with `tokenBucket:` or `maxConcurrentRequests:`")?.mapping() else {
            return policy
        }
        defer { spec.reportUnknownKeys() }
        // Scoped as Istio's policies are: `selector.matchLabels` or `targetRefs` (which may also
        // name Knative Triggers: the broker's deliveries to them are limited).
        (policy.selector, policy.functions, policy.triggers) = PolicyScopeDecoder.decode(spec, allowingTriggers: true)
        policy.routes = spec.field("routes")?.stringList() ?? []
        if let key = spec.field("perCaller")?.oneOf(
            RateLimitPolicySpec.CallerKey.self, what: "perCaller", key: "perCaller",
            otherwise: "write sourcePrincipal, requestPrincipal, actor, remoteAddress or none") {
            policy.perCaller = key
        }
        if let bucket = spec.field("tokenBucket")?.mapping() {
            defer { bucket.reportUnknownKeys() }
            let maxTokens = positive(bucket.required("maxTokens", fix: "add `maxTokens: 100`"))
            let perFill = bucket.field("tokensPerFill").map(positive) ?? maxTokens
            let interval = bucket.required("fillInterval", fix: "add `fillInterval: 1s`")?.positiveDuration()
            if let maxTokens, let perFill, let interval {
                if perFill > maxTokens {
                    bucket.field("tokensPerFill")?.report("is more than maxTokens (\(maxTokens))", fix: "write at most \(maxTokens)")
                } else if interval < .milliseconds(50) {
                    bucket.field("fillInterval")?.report("must be at least 50ms (as Envoy's)", fix: "write e.g. `fillInterval: 1s`")
                } else {
                    policy.tokenBucket = .init(maxTokens: maxTokens, tokensPerFill: perFill, fillInterval: interval)
                }
            }
        }
        policy.maxConcurrentRequests = spec.field("maxConcurrentRequests").flatMap(positive)
        if spec.field("tokenBucket") == nil, spec.field("maxConcurrentRequests") == nil {
            spec.diagnostics.report(
                at: spec.location, field: spec.fieldPath("tokenBucket"), "the policy limits nothing",
                fix: "add `tokenBucket: {maxTokens: 100, tokensPerFill: 100, fillInterval: 1s}` or `maxConcurrentRequests: 10`")
        }
        return policy
    }

    private static func positive(_ value: YAMLValue?) -> Int? {
        guard let value, let number = value.int() else { return nil }
        guard number > 0, number <= 1_000_000_000 else {
            value.report("must be a positive whole number", fix: "write e.g. 10")
            return nil
        }
        return number
    }
}
