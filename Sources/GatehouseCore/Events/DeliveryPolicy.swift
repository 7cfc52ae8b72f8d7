/// How one Trigger's events are delivered: its `delivery` over its Broker's, field by field, then
/// Gatehouse's defaults — Knative's `config-br-defaults` (10 retries, exponential from 0.2 s).
///
/// Knative takes a Trigger's `delivery` whole when it has one (a Trigger that sets only a
/// `deadLetterSink` then gets no retries); Gatehouse fills each field the Trigger leaves unset from
/// its Broker, so adding a dead-letter sink never turns retries off.
public struct DeliveryPolicy: Sendable, Hashable {
    /// Knative's cluster default for a Broker without `delivery` (`config-br-defaults`).
    public static let defaultRetries = 10
    public static let defaultBackoffPolicy = DeliverySpec.BackoffPolicy.exponential
    public static let defaultBackoffDelay = Duration.milliseconds(200)
    /// No single back-off is longer (Knative has no cap: 0.2 s × 2^29 is three years).
    public static let maxBackoff = Duration.seconds(3600)
    /// Most retries accepted in `delivery.retry`.
    public static let maxRetries = 1000

    /// Retries after the first attempt.
    public var retries: Int
    public var backoffPolicy: DeliverySpec.BackoffPolicy
    public var backoffDelay: Duration
    /// Each attempt's limit; nil: the subscriber function's own `timeout`.
    public var timeout: Duration?
    /// Knative's `retryAfterMax` (experimental there): nil, a 429 or 503's `Retry-After` is
    /// ignored; otherwise honoured up to this long.
    public var retryAfterMax: Duration?
    public var deadLetterSink: EventDestination?

    public init(
        retries: Int = defaultRetries, backoffPolicy: DeliverySpec.BackoffPolicy = defaultBackoffPolicy,
        backoffDelay: Duration = defaultBackoffDelay, timeout: Duration? = nil, retryAfterMax: Duration? = nil,
        deadLetterSink: EventDestination? = nil
    ) {
        self.retries = retries
        self.backoffPolicy = backoffPolicy
        self.backoffDelay = backoffDelay
        self.timeout = timeout
        self.retryAfterMax = retryAfterMax
        self.deadLetterSink = deadLetterSink
    }

    /// The Trigger's fields where set, else the Broker's, else the defaults.
    public init(trigger: DeliverySpec?, broker: DeliverySpec?) {
        self.init(
            retries: min(max(trigger?.retry ?? broker?.retry ?? Self.defaultRetries, 0), Self.maxRetries),
            backoffPolicy: trigger?.backoffPolicy ?? broker?.backoffPolicy ?? Self.defaultBackoffPolicy,
            backoffDelay: trigger?.backoffDelay ?? broker?.backoffDelay ?? Self.defaultBackoffDelay,
            timeout: trigger?.timeout ?? broker?.timeout,
            retryAfterMax: trigger?.retryAfterMax ?? broker?.retryAfterMax,
            deadLetterSink: trigger?.deadLetterSink ?? broker?.deadLetterSink)
    }

    /// The Trigger's policy in its Broker (nil broker: one not defined yet — defaults then).
    public init(trigger: TriggerSpec, broker: BrokerSpec?) {
        self.init(trigger: trigger.delivery, broker: broker?.delivery)
    }

    /// The wait before retry `n` (1 for the first retry): exponential `backoffDelay × 2^(n-1)`,
    /// linear `backoffDelay × n`, capped at `maxBackoff`. Knative's exponential waits the same;
    /// its linear waits nothing before the first retry (its HTTP client counts from 0), Gatehouse
    /// waits `backoffDelay` so a linear policy never retries at once.
    ///
    /// `retryAfter`: a 429 or 503 answer's `Retry-After`, honoured (up to `retryAfterMax`) when
    /// longer, only if `retryAfterMax` is set — Knative's opt-in.
    public func backoff(beforeRetry n: Int, retryAfter: Duration? = nil) -> Duration {
        let retry = max(n, 1)
        var wait: Duration
        switch backoffPolicy {
        case .exponential:
            // 2^(n-1) past the cap saturates rather than overflows.
            wait = retry > 40 ? Self.maxBackoff : backoffDelay * (1 << (retry - 1))
        case .linear:
            wait = retry > 1_000_000 ? Self.maxBackoff : backoffDelay * retry
        }
        wait = min(wait, Self.maxBackoff)
        if let retryAfterMax, let retryAfter, retryAfter > wait {
            wait = min(retryAfter, retryAfterMax)
        }
        return wait
    }

    /// Knative's `SelectiveRetry`: no answer (connection refused or reset, a timeout) and 404, 408,
    /// 409, 429 and every 5xx are retried; 1xx, 3xx and other 4xx are not. A 2xx is a delivery.
    public func isRetryable(status: Int?) -> Bool {
        Self.isRetryable(status: status)
    }

    public static func isRetryable(status: Int?) -> Bool {
        guard let status else { return true }
        return status >= 500 || [404, 408, 409, 429].contains(status)
    }

    /// Whether an answer delivered the event (Knative: 2xx only).
    public static func isDelivered(status: Int) -> Bool { (200..<300).contains(status) }

    /// Whether attempt `attempt` (1 for the first) that got `status` is followed by another.
    public func shouldRetry(afterAttempt attempt: Int, status: Int?) -> Bool {
        attempt <= retries && isRetryable(status: status)
    }
}
