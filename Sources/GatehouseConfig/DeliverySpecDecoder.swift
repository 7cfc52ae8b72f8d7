import GatehouseCore

/// Reads Knative's `delivery` (on a Broker or a Trigger) with Knative's validation: `retry` not
/// negative, a known `backoffPolicy`, ISO 8601 durations (`timeout` longer than zero), and
/// Gatehouse's bounds (at most `DeliveryPolicy.maxRetries` retries, durations of a day at most).
enum DeliverySpecDecoder {
    static func decode(_ value: YAMLValue, namespace: String, notices: inout [String]) -> DeliverySpec? {
        guard let delivery = value.mapping() else { return nil }
        defer { delivery.reportUnknownKeys() }
        var spec = DeliverySpec()
        if let retry = delivery.field("retry"), let count = retry.int() {
            if count < 0 || count > DeliveryPolicy.maxRetries {
                retry.report("must be between 0 and \(DeliveryPolicy.maxRetries)", fix: "write e.g. `retry: 10`")
            } else {
                spec.retry = count
            }
        }
        spec.backoffPolicy = delivery.field("backoffPolicy")?.oneOf(
            DeliverySpec.BackoffPolicy.self, what: "backoffPolicy", key: "backoffPolicy", otherwise: "write exponential or linear")
        spec.backoffDelay = delivery.field("backoffDelay")?.iso8601Duration()
        spec.timeout = delivery.field("timeout")?.iso8601Duration(allowingZero: false)
        spec.retryAfterMax = delivery.field("retryAfterMax")?.iso8601Duration()
        if let sink = delivery.field("deadLetterSink"),
           case .destination(let destination) = EventDestinationDecoder.decode(sink, namespace: namespace, notices: &notices) {
            spec.deadLetterSink = destination
        }
        if let format = delivery.field("format"), let text = format.string() {
            switch text {
            case "binary": break
            case "json":
                notices.append("\(format.path): json ignored; Gatehouse delivers events in binary mode")
            default:
                format.report("unknown format \"\(text)\"; allowed: json, binary", fix: "write `format: binary`")
            }
        }
        return spec
    }
}
