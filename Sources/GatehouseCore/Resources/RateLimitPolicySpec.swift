/// A `gatehouse.dev/v1` `RateLimitPolicy`: quotas that contain runaway callers — a token bucket with
/// Envoy's local rate limit semantics and a cap on requests in flight — for the functions it
/// targets, counted per function, or per caller.
public struct RateLimitPolicySpec: Hashable, Sendable {
    /// Whose requests share one bucket (and one in-flight count).
    public enum CallerKey: String, Hashable, Sendable, CaseIterable {
        /// Everyone's: one bucket for the function.
        case none
        /// The verified workload (mutual TLS); callers without one share a bucket.
        case sourcePrincipal
        /// The verified JWT's `iss/sub`; callers without one share a bucket.
        case requestPrincipal
        /// The agent acting for the person (a delegated token's current actor, `act.sub`); requests
        /// no agent made are not counted. Contains a runaway agent without limiting its people.
        case actor
        /// The connection's address.
        case remoteAddress
    }

    /// Envoy's `token_bucket`: starts full; `tokensPerFill` come back every `fillInterval`, up to `maxTokens`.
    public struct TokenBucket: Hashable, Sendable {
        public var maxTokens: Int
        public var tokensPerFill: Int
        public var fillInterval: Duration

        public init(maxTokens: Int, tokensPerFill: Int, fillInterval: Duration) {
            self.maxTokens = maxTokens
            self.tokensPerFill = tokensPerFill
            self.fillInterval = fillInterval
        }
    }

    public var namespace: String
    public var name: String
    /// `targetRefs` function names; with `selector` nil and `triggers` empty too, every function
    /// in the namespace.
    public var functions: [String]
    /// `targetRefs` of kind `Trigger` (`eventing.knative.dev`): the broker's deliveries to these
    /// Triggers share the policy's token bucket and concurrency cap.
    public var triggers: [String]
    public var selector: [String: String]?
    /// Only requests that took one of these VirtualService routes (by route name); empty: all.
    public var routes: [String]
    public var perCaller: CallerKey
    public var tokenBucket: TokenBucket?
    public var maxConcurrentRequests: Int?
    public var source: SourceLocation?

    public init(
        namespace: String, name: String, functions: [String] = [], selector: [String: String]? = nil, routes: [String] = [],
        perCaller: CallerKey = .none, tokenBucket: TokenBucket? = nil, maxConcurrentRequests: Int? = nil, source: SourceLocation? = nil,
        triggers: [String] = []
    ) {
        self.triggers = triggers
        self.namespace = namespace
        self.name = name
        self.functions = functions
        self.selector = selector
        self.routes = routes
        self.perCaller = perCaller
        self.tokenBucket = tokenBucket
        self.maxConcurrentRequests = maxConcurrentRequests
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }

    /// Whether the policy covers `function`. A policy that names only Triggers covers no function.
    public func applies(to function: FunctionSpec) -> Bool {
        guard function.namespace == namespace else { return false }
        if !functions.isEmpty || !triggers.isEmpty { return functions.contains(function.name) }
        if let selector { return selector.allSatisfy { function.labels[$0.key] == $0.value } }
        return true
    }

    /// Whether the policy limits deliveries to `trigger` (named in `targetRefs`).
    public func applies(to trigger: TriggerSpec) -> Bool {
        trigger.namespace == namespace && triggers.contains(trigger.name)
    }
}
