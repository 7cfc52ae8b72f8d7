import GatehouseStore
import Prometheus
import Testing

@testable import GatehouseEvents

/// Knative's metric names with its labels, and `event_type` — the publisher's to choose — bounded.
@Suite struct EventMetricsTests {
    @Test func eventTypesPastTheBoundCountAsOther() {
        let registry = PrometheusCollectorRegistry()
        let metrics = EventMetrics(registry: registry, maxEventTypes: 100)
        let broker = BrokerRef(namespace: "default", name: "default")
        for index in 0..<150 { metrics.published(broker: broker, eventType: "type-\(index)", status: 202, seconds: 0.001) }
        metrics.published(broker: broker, eventType: "type-7", status: 202, seconds: 0.001)
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        let series = text.split(separator: "\n").filter { $0.hasPrefix("mt_broker_ingress_event_count{") }
        #expect(series.count == 101)
        #expect(series.contains { $0.contains("event_type=\"other\"") && $0.hasSuffix(" 50") })
        #expect(series.contains { $0.contains("event_type=\"type-7\"") && $0.hasSuffix(" 2") })
        #expect(series.allSatisfy { $0.contains("broker_name=\"default\"") && $0.contains("response_code=\"202\"") && $0.contains("response_code_class=\"2xx\"") })
    }
}
