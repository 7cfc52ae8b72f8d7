/// A piece of a request's work worth its own span (a child of the gateway's): waiting for an
/// instance, the instance's start, a token verification that missed the cache, an external
/// authorizer's answer, each attempt at the function, a mirror copy. Stages and the forwarder
/// append them to the record with monotonic times; the trace observer turns them into spans.
public struct RecordedSpan: Sendable {
    public enum Kind: String, Sendable {
        /// Waiting in the function's queue for an instance.
        case queue
        /// An instance starting, from spawn to ready (the span a cold start shows as).
        case coldStart = "cold_start"
        /// Verifying a JWT whose result was not cached.
        case jwtVerification = "jwt_verification"
        /// Asking a CUSTOM policy's external authorizer.
        case externalAuthorization = "external_authorization"
        /// Asking the OIDC provider during a login (discovery, the code exchange, a refresh) or keeping a session.
        case loginProvider = "login_provider"
        /// Signing the caller's assertion for the function (once per caller and function every half-minute).
        case assertionSigning = "assertion_signing"
        /// A VirtualService fault's injected delay.
        case faultDelay = "fault_delay"
        /// One request sent to the function (retries are further attempts).
        case upstreamAttempt = "upstream_attempt"
        /// A mirror copy sent to another function.
        case mirror
    }

    public var kind: Kind
    public var id: SpanID
    public var start: ContinuousClock.Instant
    /// Nil while under way; an open span ends when the request does.
    public var end: ContinuousClock.Instant?
    /// An attempt's response status (0: none came).
    public var status = 0
    /// What the span was about or why it failed (an instance's address, "connect failed", a policy).
    public var detail: String?
    /// The span failed (an attempt that was retried, an authorizer that did not answer).
    public var failed = false

    public init(kind: Kind, id: SpanID, start: ContinuousClock.Instant, end: ContinuousClock.Instant? = nil, detail: String? = nil) {
        self.kind = kind
        self.id = id
        self.start = start
        self.end = end
        self.detail = detail
    }
}
