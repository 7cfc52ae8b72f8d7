/// Knative's `delivery` (`DeliverySpec`) on a Broker or a Trigger: how often and how patiently an
/// event is retried, and where it goes when it cannot be delivered. A Trigger's own fields win
/// over its Broker's, field by field.
public struct DeliverySpec: Sendable, Hashable {
    public enum BackoffPolicy: String, Sendable, Hashable, CaseIterable {
        /// `backoffDelay × 2^(n-1)` before retry n (n from 1): Knative's default.
        case exponential
        /// `backoffDelay × n` before retry n (see `DeliveryPolicy.backoff(beforeRetry:)`).
        case linear
    }

    /// Retries after the first attempt (Knative: `retry`); nil: not set here.
    public var retry: Int?
    public var backoffPolicy: BackoffPolicy?
    /// From an ISO 8601 duration (`PT0.2S`).
    public var backoffDelay: Duration?
    /// Each attempt's timeout, from an ISO 8601 duration.
    public var timeout: Duration?
    public var deadLetterSink: EventDestination?
    /// Knative's `retryAfterMax`: how long a 429/503 `Retry-After` may make a retry wait.
    public var retryAfterMax: Duration?

    public init(
        retry: Int? = nil, backoffPolicy: BackoffPolicy? = nil, backoffDelay: Duration? = nil, timeout: Duration? = nil,
        deadLetterSink: EventDestination? = nil, retryAfterMax: Duration? = nil
    ) {
        self.retryAfterMax = retryAfterMax
        self.retry = retry
        self.backoffPolicy = backoffPolicy
        self.backoffDelay = backoffDelay
        self.timeout = timeout
        self.deadLetterSink = deadLetterSink
    }
}
