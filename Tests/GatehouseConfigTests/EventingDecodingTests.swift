import GatehouseConfig
import GatehouseCore
import Testing

/// Knative Eventing's kinds as users write them for a cluster: the same YAML loads in Gatehouse.
@Suite("Decoding Knative Eventing resources")
struct EventingDecodingTests {
    static let function = """
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: orders, namespace: shop}
        spec:
          process: {command: ["./orders"]}
        ---
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: dead-letters, namespace: shop}
        spec:
          process: {command: ["./dlq"]}
        """

    @Test("Broker, Trigger, PingSource and EventPolicy from Knative's documentation load as written")
    func knativeExamples() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.function + """

            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata:
              name: default
              namespace: shop
              annotations:
                eventing.knative.dev/broker.class: MTChannelBasedBroker
              labels: {tier: public}
              uid: 3f1c0f9e-1111-2222-3333-444455556666
              resourceVersion: "12345"
            spec:
              delivery:
                retry: 5
                backoffPolicy: linear
                backoffDelay: PT0.5S
                deadLetterSink:
                  ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letters}
            status:
              address: {url: http://broker-ingress.knative-eventing.svc.cluster.local/shop/default}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata:
              name: order-created
              namespace: shop
            spec:
              broker: default
              filters:
                - exact: {type: com.example.order.created}
                - any:
                    - prefix: {source: /orders/eu}
                    - cesql: "region IN ('eu-west', 'eu-central')"
                - not: {suffix: {subject: .test}}
              subscriber:
                ref:
                  apiVersion: gatehouse.dev/v1
                  kind: Function
                  name: orders
                uri: /events
              delivery:
                retry: 3
                timeout: PT10S
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: all-orders, namespace: shop}
            spec:
              broker: default
              filter:
                attributes: {type: com.example.order.created, region: ""}
              subscriber:
                uri: http://orders.shop.localhost:8080/all?verbose=1
            ---
            apiVersion: sources.knative.dev/v1
            kind: PingSource
            metadata: {name: nightly, namespace: shop}
            spec:
              schedule: "0 2 * * *"
              timezone: Europe/Paris
              contentType: application/json
              data: '{"message": "Hello world!"}'
              ceOverrides:
                extensions: {team: shop}
              sink:
                ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
            ---
            apiVersion: sources.knative.dev/v1beta2
            kind: PingSource
            metadata: {name: binary, namespace: shop}
            spec:
              schedule: "*/1 * * * *"
              contentType: application/octet-stream
              dataBase64: ZGF0YQ==
              sink:
                ref: {apiVersion: v1, kind: Service, name: orders}
            ---
            apiVersion: eventing.knative.dev/v1alpha1
            kind: EventPolicy
            metadata: {name: only-billing, namespace: shop}
            spec:
              to:
                - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
                - selector:
                    apiVersion: eventing.knative.dev/v1
                    kind: Broker
                    matchLabels: {tier: public}
              from:
                - sub: system:serviceaccount:billing:*
                - ref: {apiVersion: sources.knative.dev/v1, kind: PingSource, name: nightly}
              filters:
                - prefix: {type: com.example.}
            """, file: "events.yaml")

        let broker = try #require(snapshot.broker(namespace: "shop", name: "default"))
        let deadLetters = EventDestination(.function(namespace: "shop", name: "dead-letters", path: "/"))
        #expect(broker.delivery == DeliverySpec(retry: 5, backoffPolicy: .linear, backoffDelay: .milliseconds(500), deadLetterSink: deadLetters))
        #expect(broker.labels == ["tier": "public"] && broker.source?.line == 13)

        #expect(snapshot.triggers.map(\.name) == ["all-orders", "order-created"], "sorted by name")
        let trigger = try #require(snapshot.trigger(namespace: "shop", name: "order-created"))
        #expect(trigger.broker == "default")
        #expect(trigger.subscriber == EventDestination(.function(namespace: "shop", name: "orders", path: "/events")))
        #expect(trigger.filters == [
            .exact(["type": "com.example.order.created"]),
            .any([.prefix(["source": "/orders/eu"]), .cesql("region IN ('eu-west', 'eu-central')")]),
            .not(.suffix(["subject": ".test"])),
        ])
        let policy = snapshot.deliveryPolicy(for: trigger)
        #expect(policy.retries == 3 && policy.backoffPolicy == .linear && policy.backoffDelay == .milliseconds(500))
        #expect(policy.timeout == .seconds(10) && policy.deadLetterSink == deadLetters)

        let all = try #require(snapshot.trigger(namespace: "shop", name: "all-orders"))
        #expect(all.attributes == ["type": "com.example.order.created", "region": ""])
        #expect(all.subscriber == EventDestination(.uri(host: "orders.shop.localhost", path: "/all?verbose=1")))
        #expect(snapshot.triggers(of: broker).count == 2)

        let nightly = try #require(snapshot.pingSources.first { $0.name == "nightly" })
        #expect(nightly.schedule == "0 2 * * *" && nightly.timezone == "Europe/Paris" && nightly.contentType == "application/json")
        #expect(nightly.data == Array(#"{"message": "Hello world!"}"#.utf8))
        #expect(nightly.sink == .broker(namespace: "shop", name: "default") && nightly.extensions == ["team": "shop"])
        let binary = try #require(snapshot.pingSources.first { $0.name == "binary" })
        #expect(binary.data == Array("data".utf8) && binary.sink == .destination(EventDestination(.function(namespace: "shop", name: "orders", path: "/"))))

        let eventPolicy = try #require(snapshot.eventPolicies.first)
        #expect(eventPolicy.to == [.broker(name: "default"), .selector(["tier": "public"])])
        #expect(eventPolicy.from == [.subject("system:serviceaccount:billing:*"), .source(kind: "PingSource", namespace: "shop", name: "nightly")])
        #expect(eventPolicy.filters == [.prefix(["type": "com.example."])])
        #expect(snapshot.eventPolicies(for: broker).count == 1)

        #expect(snapshot.notices.isEmpty, "\(snapshot.notices)")
        #expect(snapshot.documents.map(\.key.kind) == ["Function", "Function", "Broker", "Trigger", "Trigger", "PingSource", "PingSource", "EventPolicy"])
        #expect(snapshot.documents.map(\.key.group).contains("sources.knative.dev"))
    }

    @Test("The kinds have kubectl's names for get and delete")
    func kinds() {
        for (word, kind, group) in [
            ("broker", "Broker", "eventing.knative.dev"), ("brokers", "Broker", "eventing.knative.dev"),
            ("triggers", "Trigger", "eventing.knative.dev"), ("PingSources", "PingSource", "sources.knative.dev"),
            ("eventpolicy", "EventPolicy", "eventing.knative.dev"), ("eventpolicies", "EventPolicy", "eventing.knative.dev"),
        ] {
            #expect(ResourceKinds.resolve(word)?.kind == kind && ResourceKinds.resolve(word)?.group == group, "\(word)")
        }
    }

    @Test("A bare Broker (no spec) loads; spec.config is accepted and said to be ignored")
    func bareBroker() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: other}
            spec:
              config: {apiVersion: v1, kind: ConfigMap, name: config-br-default-channel, namespace: knative-eventing}
            """, file: "b.yaml")
        #expect(snapshot.brokers.map(\.reference) == ["default/default", "default/other"])
        #expect(snapshot.notices.map(\.message) == [
            "Broker default/other: spec.config ignored: Gatehouse's broker is built in and keeps events in its store",
        ])
    }

    @Test("What Knative accepts but cannot work yet is said, not refused: a missing Broker, subscriber or sink")
    func crossDocumentNotices() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: t, namespace: shop}
            spec:
              broker: nowhere
              subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: ghost}}
            ---
            apiVersion: sources.knative.dev/v1
            kind: PingSource
            metadata: {name: p, namespace: shop}
            spec:
              sink: {uri: "http://elsewhere.example.com/"}
            ---
            apiVersion: gatehouse.dev/v1
            kind: RateLimitPolicy
            metadata: {name: slow, namespace: shop}
            spec:
              targetRefs: [{kind: Trigger, name: missing}]
              maxConcurrentRequests: 2
            """, file: "n.yaml")
        #expect(snapshot.notices.map(\.description) == [
            "n.yaml:1:1: Trigger shop/t: Broker \"nowhere\" does not exist in namespace shop; the Trigger is not ready and receives no events until it does",
            "n.yaml:1:1: Trigger shop/t: subscriber Function shop/ghost does not exist; deliveries to it fail (and are retried) until it does",
            "n.yaml:8:1: PingSource shop/p: sink http://elsewhere.example.com is not a host Gatehouse serves (a function's NAME.NAMESPACE.localhost, or a VirtualService host); deliveries to it fail",
            "n.yaml:14:1: RateLimitPolicy shop/slow: Trigger \"missing\" does not exist in namespace shop; the policy limits nothing for it",
        ])
        #expect(snapshot.pingSources.first?.schedule == "* * * * *", "Knative's default schedule")
    }

    @Test("Part of a config (what one apply sends) says nothing about what may exist elsewhere")
    func partialConfig() throws {
        let snapshot = try ConfigLoader.load(sources: [("t.yaml", """
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: t, namespace: shop}
            spec:
              broker: default
              subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: orders}}
            """)], whole: false)
        #expect(snapshot.notices.isEmpty, "\(snapshot.notices)")
        #expect(snapshot.triggers.count == 1)
    }

    @Test("filter.attributes beside filters is said to be ignored, as Knative ignores it")
    func attributesIgnored() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.function + """

            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default, namespace: shop}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: t, namespace: shop}
            spec:
              broker: default
              filter: {attributes: {type: a}}
              filters: [{exact: {type: b}}]
              subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: orders}}
            """, file: "t.yaml")
        #expect(snapshot.notices.map(\.message) == ["Trigger shop/t: spec.filter is ignored because spec.filters is set (as in Knative)"])
    }

    @Test("RateLimitPolicy may target a Trigger; a policy naming only Triggers limits no function")
    func rateLimitTrigger() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.function + """

            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default, namespace: shop}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: t, namespace: shop}
            spec:
              broker: default
              subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: orders}}
            ---
            apiVersion: gatehouse.dev/v1
            kind: RateLimitPolicy
            metadata: {name: slow, namespace: shop}
            spec:
              targetRefs:
                - {kind: Trigger, group: eventing.knative.dev, name: t}
              tokenBucket: {maxTokens: 10, fillInterval: 1s}
              maxConcurrentRequests: 2
            """, file: "r.yaml")
        let policy = try #require(snapshot.rateLimits.first)
        #expect(policy.triggers == ["t"] && policy.functions.isEmpty)
        let trigger = try #require(snapshot.triggers.first)
        #expect(snapshot.rateLimits(for: trigger).map(\.name) == ["slow"])
        #expect(snapshot.functions.allSatisfy { !policy.applies(to: $0) })
    }

    @Test("Duplicate names are refused, as for every kind")
    func duplicates() {
        let broker = "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default}\n"
        let found = diagnostics(broker + "---\n" + broker, file: "d.yaml")
        #expect(found.map(\.description) == [
            "d.yaml:7:18: metadata.name: duplicate Broker default/default; first defined at d.yaml:1:1 (fix: rename one of them or delete the duplicate)",
        ])
    }
}
