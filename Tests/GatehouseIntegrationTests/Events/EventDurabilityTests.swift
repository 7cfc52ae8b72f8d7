import Foundation
import GatehouseTesting
import Testing

/// What got 202 is delivered, whatever happens to Gatehouse afterwards: `kill -9` in the middle of
/// delivery, then a restart, and every accepted event reaches its subscriber at least once; the
/// dead-letter sink gets exactly the events whose subscriber always fails.
@Suite struct EventDurabilityTests {
    static func config(records: URL) -> String {
        """
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: default, namespace: default}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: all, namespace: default}
        spec:
          broker: default
          filters: [{not: {suffix: {type: .fail}}}]
          subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: sink}}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: doomed, namespace: default}
        spec:
          broker: default
          filters: [{suffix: {type: .fail}}]
          subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: flaky}}
          delivery:
            retry: 1
            backoffDelay: PT0.01S
            deadLetterSink: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: dead}}
        ---
        \(CloudEventsFixture.function(name: "sink", records: records))
        ---
        \(CloudEventsFixture.function(name: "flaky", records: records))
        ---
        \(CloudEventsFixture.function(name: "dead", target: "keep", records: records))
        """
    }

    @Test func everyAcceptedEventIsDeliveredAfterKillDashNine() async throws {
        try await CloudEventsFixture.ensureInstalled()
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let records = try CloudEventsFixture.write(into: directory)
        let first = try await RunningGatehouse.start(config: Self.config(records: records), directory: directory)
        var accepted: [String] = []
        var doomed: [String] = []
        for index in 0..<40 {
            // Two doomed events: four failed attempts, under the breaker's threshold of five
            // consecutive failures (which would pause the trigger; EventDeliveryTests covers that).
            let failing = index % 20 == 3
            let id = "e-\(index)"
            let response = try await RunningGatehouse.send(
                url: first.ingress + "/default/default", host: "broker-ingress.\(first.domain)", method: .POST,
                headers: [("ce-specversion", "1.0"), ("ce-id", id), ("ce-source", "/crash"), ("ce-type", failing ? "job.fail" : "job.done"),
                          ("content-type", "application/json")],
                body: Array(#"{"i": \#(index)}"#.utf8))
            #expect(response.status == 202, "\(response.body)")
            if failing { doomed.append(id) } else { accepted.append(id) }
        }
        // Mid-delivery: the functions are still starting or working through the queue.
        try await first.kill()
        let second = try await first.restart()
        do {
            let ids = { (function: String) in
                Set(CloudEventsFixture.received(by: function, in: records).compactMap { ($0["attributes"] as? [String: Any])?["id"] as? String })
            }
            _ = try await eventually("every accepted event delivered", timeout: .seconds(150)) { ids("sink").isSuperset(of: accepted) ? true : nil }
            _ = try await eventually("every doomed event dead-lettered", timeout: .seconds(150)) { ids("dead") == Set(doomed) ? true : nil }
            #expect(ids("sink").isDisjoint(with: doomed))
            for letter in CloudEventsFixture.received(by: "dead", in: records) {
                #expect((letter["attributes"] as? [String: Any])?["knativeerrorcode"] as? String == "500")
            }
        } catch {
            for trigger in ["all", "doomed"] { print((try? await second.cli(["describe", "trigger", trigger]).stdout) ?? "") }
            print("--- gatehouse stderr ---\n\(second.stderr)")
            _ = try? await second.stop()
            throw error
        }
        try await second.stop()
        second.removeDirectory()
    }
}
