import Foundation
import GatehouseTesting
import Testing

/// Knative Eventing end to end: the CloudEvents Python SDK publishes to a Broker, unmodified
/// Functions Framework functions receive the events their Triggers select, failures are retried
/// and dead-lettered with Knative's extensions, replies go back into the broker.
@Suite(.serialized) struct EventDeliveryTests {
    static func config(records: URL) -> String {
        """
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: default, namespace: default}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: orders, namespace: default}
        spec:
          broker: default
          filter:
            attributes: {type: order.created}
          subscriber:
            ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: orders}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: failing, namespace: default}
        spec:
          broker: default
          filters:
            - exact: {type: job.fail}
          subscriber:
            ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: flaky}
          delivery:
            retry: 2
            backoffPolicy: linear
            backoffDelay: PT0.05S
            deadLetterSink:
              ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: dead}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: asks, namespace: default}
        spec:
          broker: default
          filters:
            - cesql: "type = 'question.asked' AND EXISTS subject"
          subscriber:
            ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: replier}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: answers, namespace: default}
        spec:
          broker: default
          filter:
            attributes: {type: question.asked.reply}
          subscriber:
            ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: answers}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: breaker, namespace: default}
        spec:
          broker: default
          filter:
            attributes: {type: breaker.fail}
          subscriber:
            ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: flaky}
          delivery: {retry: 0}
        ---
        \(CloudEventsFixture.function(name: "orders", records: records))
        ---
        \(CloudEventsFixture.function(name: "flaky", records: records))
        ---
        \(CloudEventsFixture.function(name: "dead", target: "keep", records: records))
        ---
        \(CloudEventsFixture.function(name: "answers", records: records))
        ---
        \(CloudEventsFixture.function(name: "replier", target: "reply", signatureType: "http", records: records))
        """
    }

    /// Starts Gatehouse on `config(records)` with the event fixtures beside it; always stops it.
    static func withEvents(
        arguments: [String] = [], _ config: (URL) -> String, _ body: (RunningGatehouse, URL) async throws -> Void
    ) async throws {
        try await CloudEventsFixture.ensureInstalled()
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let records = try CloudEventsFixture.write(into: directory)
        let gatehouse = try await RunningGatehouse.start(config: config(records), arguments: arguments, directory: directory)
        do {
            try await body(gatehouse, records)
        } catch {
            _ = try? await gatehouse.stop()
            print("--- gatehouse stderr ---\n\(gatehouse.stderr)")
            throw error
        }
        try await gatehouse.stop()
        gatehouse.removeDirectory()
    }

    static func publish(
        _ gatehouse: RunningGatehouse, _ attributes: [String: String], data: String? = #"{"n": 1}"#, mode: String = "binary", broker: String = "default/default"
    ) async throws -> (status: Int, body: String) {
        try await CloudEventsFixture.publish(
            url: gatehouse.ingress + "/" + broker, host: "broker-ingress.\(gatehouse.domain)", attributes: attributes, data: data, mode: mode,
            in: gatehouse.directory)
    }

    static func received(_ function: String, _ records: URL, id: String) -> [String: Any]? {
        CloudEventsFixture.received(by: function, in: records).first { ($0["attributes"] as? [String: Any])?["id"] as? String == id }
    }

    @Test func eventsReachTheTriggersWhoseFiltersMatchInBothModes() async throws {
        try await Self.withEvents(Self.config) { gatehouse, records in
            let binary = try await Self.publish(gatehouse, ["type": "order.created", "source": "/shop", "id": "o-1"])
            #expect(binary.status == 202, "\(binary.body)")
            let structured = try await Self.publish(gatehouse, ["type": "order.created", "source": "/shop", "id": "o-2"], mode: "structured")
            #expect(structured.status == 202, "\(structured.body)")
            #expect(try await Self.publish(gatehouse, ["type": "order.cancelled", "source": "/shop", "id": "o-3"]).status == 202)
            let first = try await eventually("o-1 delivered") { Self.received("orders", records, id: "o-1") }
            _ = try await eventually("o-2 delivered") { Self.received("orders", records, id: "o-2") }
            // Binary mode, as Knative's broker delivers: the function sees the attributes and the data as sent.
            #expect((first["attributes"] as? [String: Any])?["source"] as? String == "/shop")
            #expect((first["data"] as? [String: Any])?["n"] as? Int == 1)
            // o-3 matches no trigger: it was acknowledged and goes nowhere (the trigger's filter, not luck).
            let deliveredAfter = try await eventually("describe shows 2 delivered") { () -> String? in
                let out = try await gatehouse.cli(["describe", "trigger", "orders"]).stdout
                return describedCount(out, "Delivered") == 2 ? out : nil
            }
            #expect(deliveredAfter.contains("Filter:"))
            #expect(!CloudEventsFixture.received(by: "orders", in: records).contains { ($0["attributes"] as? [String: Any])?["id"] as? String == "o-3" })

            // The CLI publishes through the same stages.
            let sent = try await gatehouse.cli(["events", "send", "--broker", "default", "--type", "order.created", "--id", "o-cli", "--data", #"{"n": 2}"#])
            #expect(sent.status == 0, "\(sent.stderr)")
            let viaCLI = try await eventually("o-cli delivered") { Self.received("orders", records, id: "o-cli") }
            #expect((viaCLI["data"] as? [String: Any])?["n"] as? Int == 2)

            // Knative's metric names with its labels, and the queue gauges.
            let metrics = try await eventually("the queue gauge") { () -> String? in
                let text = try await gatehouse.metrics()
                return text.contains("gatehouse_event_queue_depth{") ? text : nil
            }
            #expect(sample(metrics, "mt_broker_ingress_event_count", containing: ["broker_name=\"default\"", "event_type=\"order.created\"", "response_code=\"202\""]) == 3)
            #expect(sample(metrics, "mt_broker_filter_event_count", containing: ["trigger_name=\"orders\"", "response_code=\"200\""]).map { $0 >= 2 } == true)
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
                // Knative's counters end in `_count`, as its exporter writes them (promtool wants
                // `_total`, and no `_count` outside histograms): the complaints to allow beside
                // Istio's millisecond unit.
                for complaint in try promtoolComplaints(metrics) where !complaint.contains("istio_request_duration_milliseconds") {
                    let knativeName = complaint.hasPrefix("mt_broker_ingress_event_count ") || complaint.hasPrefix("mt_broker_filter_event_count ")
                    #expect(knativeName && (complaint.contains("\"_count\" suffix") || complaint.contains("\"_total\" suffix")), "unexpected promtool complaint: \(complaint)")
                }
            }
        }
    }

    @Test func aDeliveryContinuesThePublishersTrace() async throws {
        try await Self.withEvents(Self.config) { gatehouse, records in
            let traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
            let response = try await RunningGatehouse.send(
                url: gatehouse.ingress + "/default/default", host: "broker-ingress.\(gatehouse.domain)", method: .POST,
                headers: [("ce-specversion", "1.0"), ("ce-id", "t-1"), ("ce-source", "/t"), ("ce-type", "order.created"),
                          ("content-type", "application/json"), ("traceparent", "00-\(traceId)-00f067aa0ba902b7-01")],
                body: Array("{}".utf8))
            #expect(response.status == 202)
            let delivered = try await eventually("t-1 delivered") { Self.received("orders", records, id: "t-1") }
            // The event carries the publish request's context (distributed tracing extension).
            #expect((delivered["attributes"] as? [String: Any])?["traceparent"].map { "\($0)".contains(traceId) } == true)
            // One trace: the publish and the delivery through the stages, as `gatehouse trace` shows it.
            let trace = try await eventually("both requests in the trace") { () -> [String: Any]? in
                let out = try await gatehouse.cli(["trace", traceId, "-o", "json"])
                guard out.status == 0, let json = try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any] else { return nil }
                return (json["requests"] as? Int ?? 0) >= 2 ? json : nil
            }
            #expect(trace["traceId"] as? String == traceId)
        }
    }

    @Test func aMalformedEventIs400NamingTheMissingAttribute() async throws {
        try await Self.withEvents(Self.config) { gatehouse, _ in
            let response = try await RunningGatehouse.send(
                url: gatehouse.ingress + "/default/default", host: "broker-ingress.\(gatehouse.domain)", method: .POST,
                headers: [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/x"), ("content-type", "application/json")], body: Array("{}".utf8))
            #expect(response.status == 400)
            #expect(response.body.contains("missing_attribute_type"), "\(response.body)")
            #expect(response.body.contains("requestId"))
            // An unknown broker is 404, a GET is 405.
            #expect(try await Self.publish(gatehouse, ["type": "t", "source": "/s"], broker: "default/nope").status == 404)
            let get = try await RunningGatehouse.send(url: gatehouse.ingress + "/default/default", host: "broker-ingress.\(gatehouse.domain)", method: .GET, headers: [], body: nil)
            #expect(get.status == 405)
        }
    }

    @Test func aFailingSubscriberIsRetriedThenDeadLetteredWithKnativesExtensions() async throws {
        try await Self.withEvents(Self.config) { gatehouse, records in
            #expect(try await Self.publish(gatehouse, ["type": "job.fail", "source": "/jobs", "id": "j-1"]).status == 202)
            let dead = try await eventually("j-1 dead-lettered") { Self.received("dead", records, id: "j-1") }
            let attributes = dead["attributes"] as? [String: Any] ?? [:]
            #expect(attributes["knativeerrorcode"] as? String == "500")
            #expect((attributes["knativeerrordest"] as? String)?.contains("flaky.default.") == true)
            #expect(attributes["knativeerrordata"] != nil)
            // One attempt and two retries reached the subscriber.
            #expect(CloudEventsFixture.received(by: "flaky", in: records).count { ($0["attributes"] as? [String: Any])?["id"] as? String == "j-1" } == 3)
            let described = try await gatehouse.cli(["describe", "trigger", "failing"]).stdout
            #expect(describedCount(described, "Retried") == 2, "\(described)")
            #expect(describedCount(described, "Dead-lettered") == 1, "\(described)")
            let letters = try await gatehouse.cli(["events", "dead-letters", "-o", "json"])
            #expect(letters.stdout.contains("\"eventId\" : \"j-1\""), "\(letters.stdout)")
        }
    }

    @Test func aSubscriberThatKeepsFailingPausesItsTrigger() async throws {
        try await Self.withEvents(Self.config) { gatehouse, records in
            for index in 0..<8 {
                #expect(try await Self.publish(gatehouse, ["type": "breaker.fail", "source": "/b", "id": "b-\(index)"]).status == 202)
            }
            // Five consecutive failures open the breaker: the trigger is paused, visibly.
            let described = try await eventually("the trigger paused") { () -> String? in
                let out = try await gatehouse.cli(["describe", "trigger", "breaker"]).stdout
                return out.contains("State:            paused") ? out : nil
            }
            // Still in its pause, or (on a slow machine) past it with one delivery probing.
            #expect(described.contains("resumes at") || described.contains("one delivery probing"), "\(described)")
            let paused = try await eventually("gatehouse_trigger_paused is 1") {
                sample(try await gatehouse.metrics(), "gatehouse_trigger_paused", containing: ["trigger_name=\"breaker\""]) == 1 ? true : nil
            }
            #expect(paused)
            // Nothing is lost meanwhile: what was not tried yet is still pending.
            let pending = describedCount(described, "Pending") ?? 0
            let tried = CloudEventsFixture.received(by: "flaky", in: records).count
            #expect(pending + describedCount(described, "Dead-lettered")! == 8, "\(described)")
            #expect(tried >= 5)
        }
    }

    @Test func aReplyEventGoesBackIntoTheBroker() async throws {
        try await Self.withEvents(Self.config) { gatehouse, records in
            #expect(try await Self.publish(gatehouse, ["type": "question.asked", "source": "/q", "id": "q-1", "subject": "life"]).status == 202)
            // No subject: the CESQL filter does not match.
            #expect(try await Self.publish(gatehouse, ["type": "question.asked", "source": "/q", "id": "q-2"]).status == 202)
            let answer = try await eventually("the reply delivered") {
                CloudEventsFixture.received(by: "answers", in: records).first
            }
            #expect((answer["data"] as? [String: Any])?["in_reply_to"] as? String == "q-1")
            #expect(CloudEventsFixture.received(by: "replier", in: records).count == 1)
        }
    }

    @Test func getBrokerPrintsItKnativeShapedWithItsAddress() async throws {
        try await Self.withEvents(Self.config) { gatehouse, _ in
            let result = try await gatehouse.cli(["get", "broker", "default", "-o", "json"])
            #expect(result.status == 0, "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
            #expect(object["kind"] as? String == "Broker")
            let status = object["status"] as? [String: Any] ?? [:]
            let url = (status["address"] as? [String: Any])?["url"] as? String ?? ""
            #expect(url.hasPrefix("http://broker-ingress.\(gatehouse.domain):") && url.hasSuffix("/default/default"), "\(url)")
            let ready = (status["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Ready" }
            #expect(ready?["status"] as? String == "True")
            let triggers = try await gatehouse.cli(["get", "triggers"])
            #expect(triggers.stdout.contains("orders") && triggers.stdout.contains("True"), "\(triggers.stdout)")
        }
    }
}

/// The number on `describe trigger`'s line labelled `label:` (`Delivered:`, `Retried:`, …).
func describedCount(_ described: String, _ label: String) -> Int? {
    described.split(separator: "\n").first { $0.hasPrefix(label + ":") }
        .flatMap { line in line.dropFirst(label.count + 1).split(separator: " ").first.flatMap { Int($0) } }
}
