import Foundation
import GatehouseCore
import Testing

/// Retries, back-off and dead letters, as Knative's dispatcher does them.
@Suite("Delivery policy")
struct DeliveryPolicyTests {
    static let sink = EventDestination(.function(namespace: "shop", name: "dead-letters", path: "/"))

    @Test("No delivery anywhere: Knative's broker defaults (10 retries, exponential from 0.2s, no timeout)")
    func defaults() {
        let policy = DeliveryPolicy(trigger: nil, broker: nil)
        #expect(policy.retries == 10 && policy.backoffPolicy == .exponential && policy.backoffDelay == .milliseconds(200))
        #expect(policy.timeout == nil && policy.deadLetterSink == nil && policy.retryAfterMax == nil)
    }

    @Test("The Trigger's fields win, field by field; the rest come from the Broker, then the defaults")
    func fieldByField() {
        let broker = DeliverySpec(retry: 3, backoffPolicy: .linear, backoffDelay: .seconds(1), timeout: .seconds(5), deadLetterSink: Self.sink)
        let trigger = DeliverySpec(retry: 7, backoffDelay: .milliseconds(500))
        let policy = DeliveryPolicy(trigger: trigger, broker: broker)
        #expect(policy.retries == 7 && policy.backoffPolicy == .linear && policy.backoffDelay == .milliseconds(500))
        #expect(policy.timeout == .seconds(5) && policy.deadLetterSink == Self.sink)
        // A Trigger with only a dead-letter sink keeps retrying (Knative would not: it takes the Trigger's delivery whole).
        let onlySink = DeliveryPolicy(trigger: DeliverySpec(deadLetterSink: Self.sink), broker: nil)
        #expect(onlySink.retries == 10 && onlySink.deadLetterSink == Self.sink)
    }

    @Test("Back-off before each retry", arguments: [
        (DeliverySpec.BackoffPolicy.exponential, Duration.milliseconds(200), [200, 400, 800, 1600, 3200]),
        (.exponential, .milliseconds(500), [500, 1000, 2000, 4000, 8000]),
        (.linear, .milliseconds(2500), [2500, 5000, 7500, 10000, 12500]),
        (.linear, .zero, [0, 0, 0, 0, 0]),
    ])
    func backoff(policy: DeliverySpec.BackoffPolicy, delay: Duration, milliseconds: [Int]) {
        let delivery = DeliveryPolicy(backoffPolicy: policy, backoffDelay: delay)
        #expect((1...5).map { delivery.backoff(beforeRetry: $0) } == milliseconds.map { .milliseconds($0) })
    }

    @Test("Back-off is capped at an hour, however many retries")
    func cap() {
        let exponential = DeliveryPolicy(retries: 1000, backoffPolicy: .exponential, backoffDelay: .seconds(1))
        #expect(exponential.backoff(beforeRetry: 12) == .seconds(2048))
        #expect(exponential.backoff(beforeRetry: 13) == .seconds(3600))
        #expect(exponential.backoff(beforeRetry: 1000) == .seconds(3600))
        #expect(exponential.backoff(beforeRetry: .max) == .seconds(3600))
        let linear = DeliveryPolicy(retries: 1000, backoffPolicy: .linear, backoffDelay: .seconds(86_400))
        #expect(linear.backoff(beforeRetry: .max) == .seconds(3600))
    }

    @Test("Retry-After is honoured only with retryAfterMax (Knative's opt-in), up to it")
    func retryAfter() {
        let plain = DeliveryPolicy(backoffDelay: .seconds(1))
        #expect(plain.backoff(beforeRetry: 1, retryAfter: .seconds(30)) == .seconds(1))
        let honouring = DeliveryPolicy(backoffDelay: .seconds(1), retryAfterMax: .seconds(10))
        #expect(honouring.backoff(beforeRetry: 1, retryAfter: .seconds(30)) == .seconds(10))
        #expect(honouring.backoff(beforeRetry: 1, retryAfter: .seconds(5)) == .seconds(5))
        #expect(honouring.backoff(beforeRetry: 5, retryAfter: .seconds(5)) == .seconds(16))
    }

    @Test("Knative's table of retried statuses", arguments: [
        (nil, true), (404, true), (408, true), (409, true), (429, true), (500, true), (502, true), (503, true), (504, true), (599, true),
        (400, false), (401, false), (403, false), (405, false), (410, false), (413, false), (422, false),
        (301, false), (302, false), (100, false),
    ] as [(Int?, Bool)])
    func retried(status: Int?, expected: Bool) {
        #expect(DeliveryPolicy.isRetryable(status: status) == expected)
    }

    @Test("retry N means N+1 attempts for retryable failures, one for the others")
    func attempts() {
        let policy = DeliveryPolicy(retries: 2)
        #expect(policy.shouldRetry(afterAttempt: 1, status: 503) && policy.shouldRetry(afterAttempt: 2, status: nil))
        #expect(!policy.shouldRetry(afterAttempt: 3, status: 503))
        #expect(!policy.shouldRetry(afterAttempt: 1, status: 400))
        #expect(!DeliveryPolicy(retries: 0).shouldRetry(afterAttempt: 1, status: 500))
        #expect(DeliveryPolicy.isDelivered(status: 202) && !DeliveryPolicy.isDelivered(status: 302))
    }

    @Test("A dead-lettered event carries Knative's error extensions; the data is base64, cut at 1024 characters")
    func deadLetter() {
        let event = CloudEvent(id: "1", source: "/s", type: "t", extensions: ["region": "eu"], data: Array("hi".utf8))
        let body = Array("upstream said no".utf8)
        let dead = event.deadLettered(destination: "http://orders.shop.localhost/", status: 503, responseBody: body)
        #expect(dead.extensions["knativeerrorcode"] == "503")
        #expect(dead.extensions["knativeerrordest"] == "http://orders.shop.localhost/")
        #expect(dead.extensions["knativeerrordata"] == Data(body).base64EncodedString())
        #expect(dead.extensions["region"] == "eu" && dead.data == event.data && dead.id == event.id)

        let noAnswer = event.deadLettered(destination: "d", status: nil, responseBody: Array("dispatch error: connection refused".utf8))
        #expect(noAnswer.extensions["knativeerrorcode"] == "500")

        let huge = [UInt8](repeating: 0x41, count: 1_000_000)
        let cut = event.deadLettered(destination: "d", status: 500, responseBody: huge).extensions["knativeerrordata"]!
        #expect(cut.count == 1024 && cut == String(Data(huge).base64EncodedString().prefix(1024)))
    }

    @Test("Destinations as URLs, for knativeerrordest")
    func urls() {
        #expect(EventDestination(.function(namespace: "shop", name: "orders", path: "/events")).url(domain: "localhost") == "http://orders.shop.localhost/events")
        #expect(EventDestination(.uri(host: "api.example.com", path: "/")).url(domain: "localhost") == "http://api.example.com/")
    }
}
