import Foundation
import GatehouseTesting
import Testing

/// Who may publish (EventPolicy, checked after every other stage) and who may deliver (each
/// trigger delivers as its own mesh identity, so a function's AuthorizationPolicy can name it).
@Suite struct EventPolicyTests {
    static func config(records: URL) -> String {
        """
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: secure, namespace: default}
        ---
        apiVersion: eventing.knative.dev/v1alpha1
        kind: EventPolicy
        metadata: {name: only-publisher, namespace: default}
        spec:
          to: [{ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: secure}}]
          from: [{sub: "spiffe://cluster.local/ns/default/sa/publisher"}]
          filters: [{prefix: {type: com.example.}}]
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: allowed, namespace: default}
        spec:
          broker: secure
          subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: orders}}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: intruder, namespace: default}
        spec:
          broker: secure
          subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: orders}}
          delivery: {retry: 3, backoffDelay: PT0.01S}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: only-the-allowed-trigger, namespace: default}
        spec:
          selector: {matchLabels: {app: orders}}
          action: ALLOW
          rules:
          - from: [{source: {principals: ["cluster.local/ns/default/sa/gatehouse-broker.secure.allowed"]}}]
        ---
        \(CloudEventsFixture.function(name: "orders", records: records).replacingOccurrences(of: "metadata: {name: orders, namespace: default}", with: "metadata: {name: orders, namespace: default, labels: {app: orders}}"))
        """
    }

    @Test func onlyTheNamedSenderPublishesAndOnlyTheNamedTriggerDelivers() async throws {
        try await EventDeliveryTests.withEvents(Self.config) { gatehouse, records in
            let event: [(String, String)] = [
                ("ce-specversion", "1.0"), ("ce-id", "p-1"), ("ce-source", "/s"), ("ce-type", "com.example.paid"), ("content-type", "application/json"),
            ]
            // Anonymous, through the ingress: no EventPolicy names it.
            let anonymous = try await RunningGatehouse.send(
                url: gatehouse.ingress + "/default/secure", host: "broker-ingress.\(gatehouse.domain)", method: .POST, headers: event, body: Array("{}".utf8))
            #expect(anonymous.status == 403)
            #expect(anonymous.body.contains("denied_by_event_policy"), "\(anonymous.body)")
            let bundle = gatehouse.stateDirectory.appendingPathComponent("ca/root-cert.pem")
            let publisher = try await gatehouse.issueSVID("spiffe://cluster.local/ns/default/sa/publisher")
            let stranger = try await gatehouse.issueSVID("spiffe://cluster.local/ns/default/sa/stranger")
            func publish(_ svid: URL, _ headers: [(String, String)]) async throws -> RunningGatehouse.Response {
                try await MeshClient.request(
                    gatehouse.mesh, host: "broker-ingress.\(gatehouse.domain)", path: "/default/secure", method: .POST,
                    certificate: svid.appendingPathComponent("cert.pem"), key: svid.appendingPathComponent("key.pem"), bundle: bundle,
                    headers: headers, body: Array("{}".utf8))
            }
            #expect(try await publish(stranger, event).status == 403)
            // The right sender, but an event the policy's filter does not allow.
            var other = event
            other[3] = ("ce-type", "org.other.paid")
            #expect(try await publish(publisher, other).status == 403)
            let accepted = try await publish(publisher, event)
            #expect(accepted.status == 202, "\(accepted.body)")

            // Trigger `allowed` delivers; `intruder`'s deliveries are 403 (not retried: Knative retries no 403) and dead-lettered.
            let delivered = try await eventually("p-1 delivered") { EventDeliveryTests.received("orders", records, id: "p-1") }
            #expect((delivered["attributes"] as? [String: Any])?["type"] as? String == "com.example.paid")
            // The function learns who delivered, as from any mesh caller (no certificate hash: vouched for in-process).
            #expect((delivered["xfcc"] as? String)?.hasSuffix(";URI=spiffe://cluster.local/ns/default/sa/gatehouse-broker.secure.allowed") == true, "\(delivered)")
            #expect((delivered["xfcc"] as? String)?.contains("Hash=") == false)
            let letters = try await eventually("the intruder's delivery dead-lettered") { () -> String? in
                let out = try await gatehouse.cli(["events", "dead-letters", "-o", "json"]).stdout
                return out.contains("default/intruder") ? out : nil
            }
            #expect(letters.contains("\"status\" : 403"), "\(letters)")
            let described = try await gatehouse.cli(["describe", "trigger", "intruder"]).stdout
            #expect(describedCount(described, "Retried") == 0, "\(described)")
            #expect(CloudEventsFixture.received(by: "orders", in: records).count == 1)
        }
    }

    @Test func istioPoliciesApplyToTheBrokerIngressAsAWorkload() async throws {
        let config = """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: closed, namespace: default}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: limited, namespace: default}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: no-publishing, namespace: default}
            spec:
              targetRefs: [{group: eventing.knative.dev, kind: Broker, name: closed}]
              action: DENY
              rules: [{}]
            ---
            apiVersion: gatehouse.dev/v1
            kind: RateLimitPolicy
            metadata: {name: two-events, namespace: default}
            spec:
              targetRefs: [{group: eventing.knative.dev, kind: Broker, name: limited}]
              tokenBucket: {maxTokens: 2, tokensPerFill: 2, fillInterval: 1h}
            """
        try await withGatehouse(config) { gatehouse in
            func publish(_ broker: String) async throws -> RunningGatehouse.Response {
                try await RunningGatehouse.send(
                    url: gatehouse.ingress + "/default/\(broker)", host: "broker-ingress.\(gatehouse.domain)", method: .POST,
                    headers: [("ce-specversion", "1.0"), ("ce-id", UUID().uuidString), ("ce-source", "/s"), ("ce-type", "t")], body: nil)
            }
            let denied = try await publish("closed")
            #expect(denied.status == 403)
            #expect(denied.body.contains("denied_by_policy"), "\(denied.body)")
            #expect(try await publish("limited").status == 202)
            #expect(try await publish("limited").status == 202)
            #expect(try await publish("limited").status == 429)
            // The denial names the policy in the access log, with the Broker's workload as the destination.
            let line = try await eventually("the denial's access log line") { gatehouse.accessLog.first { ($0["response_code"] as? Int) == 403 } }
            #expect((line["response_code_details"] as? String)?.contains("no-publishing") == true, "\(line)")
        }
    }
}

/// Knative accepts a Trigger whose Broker does not exist yet; the apply says so.
@Suite struct EventApplyTests {
    @Test func applyingATriggerWithoutItsBrokerSaysSo() async throws {
        try await withGatehouse(fixtureFunction()) { gatehouse in
            let file = gatehouse.directory.appendingPathComponent("trigger.yaml")
            try """
                apiVersion: eventing.knative.dev/v1
                kind: Trigger
                metadata: {name: early, namespace: default}
                spec:
                  broker: later
                  subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: fn}}
                """.write(to: file, atomically: true, encoding: .utf8)
            let applied = try await gatehouse.cli(["apply", "-f", file.path])
            #expect(applied.status == 0, "\(applied.stderr)")
            #expect((applied.stdout + applied.stderr).contains("Broker \"later\" does not exist"), "\(applied.stdout)\(applied.stderr)")
            let triggers = try await gatehouse.cli(["get", "triggers"])
            #expect(triggers.stdout.contains("False (BrokerDoesNotExist)"), "\(triggers.stdout)")
        }
    }
}
