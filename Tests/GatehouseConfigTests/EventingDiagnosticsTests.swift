import GatehouseConfig
import GatehouseCore
import Testing

/// Every mistake in a Knative resource names the file, the line, the field and a fix.
@Suite("Diagnostics for Knative Eventing resources")
struct EventingDiagnosticsTests {
    static func trigger(_ spec: String) -> String {
        "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t, namespace: shop}\nspec:\n" + spec + "\n"
    }

    static let subscriber = "  subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: orders}}"

    @Test("Trigger mistakes", arguments: [
        ("  subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: f}}", "spec.broker", "add `broker: default`"),
        ("  broker: default", "spec.subscriber", "add `subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: NAME}}`"),
        ("  brokr: default\n" + subscriber, "spec.brokr", "did you mean `broker`?"),
        ("  broker: default\n  subscribers: {}\n" + subscriber, "spec.subscribers", "did you mean `subscriber`?"),
        ("  broker: default\n  brokerRef: {name: default}\n" + subscriber, "spec.brokerRef", "keep `broker: NAME`"),
        ("  brokerRef: {name: default, namespace: other}\n" + subscriber, "spec.brokerRef.namespace", "remove `namespace`"),
        ("  broker: default\n  subscriber: {}", "spec.subscriber", "write `ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: NAME}`"),
        ("  broker: default\n  subscriber: {uri: ftp://orders.shop.localhost/}", "spec.subscriber.uri",
         "write `uri: http://NAME.NAMESPACE.<domain>/path` (a host Gatehouse serves), or use `ref:` to a Function"),
        ("  broker: default\n  subscriber: {uri: /relative}", "spec.subscriber.uri",
         "write `uri: http://NAME.NAMESPACE.<domain>/path` (a host Gatehouse serves), or use `ref:` to a Function"),
        ("  broker: default\n  subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: f}, uri: http://x/y}", "spec.subscriber.uri",
         "write a path, or drop `ref` and give an absolute http:// URL"),
        ("  broker: default\n  subscriber: {ref: {apiVersion: apps/v1, kind: Deployment, name: f}}", "spec.subscriber.ref.kind",
         "write `apiVersion: gatehouse.dev/v1` and `kind: Function` (a serving.knative.dev/v1 Service of the same name works too)"),
        ("  broker: default\n  subscriber: {ref: {kind: Function, name: f}}", "spec.subscriber.ref.apiVersion", "add `apiVersion: gatehouse.dev/v1`"),
        ("  broker: default\n  subscriber: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: b}}", "spec.subscriber.ref.kind",
         "name a Function (`kind: Function`, `apiVersion: gatehouse.dev/v1`)"),
        ("  broker: default\n  subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: f, namespace: other}}",
         "spec.subscriber.ref.namespace", "remove `namespace`, or move the resource to \"other\""),
        ("  broker: default\n  filter: {attributes: {Type: a}}\n" + subscriber, "spec.filter.attributes", "write `type`"),
        ("  broker: default\n  filter: {atributes: {type: a}}\n" + subscriber, "spec.filter.atributes", "did you mean `attributes`?"),
        ("  broker: default\n  filters: [{exact: {type: a}, prefix: {source: b}}]\n" + subscriber, "spec.filters[0].prefix",
         "split it into separate list entries (all of them must match), or wrap them in `all:`"),
        ("  broker: default\n  filters: [{prefix: {type: \"\"}}]\n" + subscriber, "spec.filters[0].prefix.type",
         "write the value to match, or remove `type`"),
        ("  broker: default\n  filters: [{exactly: {type: a}}]\n" + subscriber, "spec.filters[0].exactly", "did you mean `exact`?"),
        ("  broker: default\n  filters: [{cesql: \"type = \"}]\n" + subscriber, "spec.filters[0].cesql",
         "write a condition such as \"type = 'com.example.created' AND source LIKE '/orders/%'\" (see docs/reference/events.md)"),
        ("  broker: default\n  filters: [{not: {any: [{suffix: {my-ext: x}}]}}]\n" + subscriber, "spec.filters[0].not.any[0].suffix", "write `myext`"),
        ("  broker: default\n  filters: {exact: {type: a}}\n" + subscriber, "spec.filters", "write a list, e.g. [\"a\", \"b\"] or `- a` lines"),
        ("  broker: default\n  delivery: {retry: -1}\n" + subscriber, "spec.delivery.retry", "write e.g. `retry: 10`"),
        ("  broker: default\n  delivery: {retry: \"3\"}\n" + subscriber, "spec.delivery.retry", "write 3 without quotes"),
        ("  broker: default\n  delivery: {backoffPolicy: exponentail}\n" + subscriber, "spec.delivery.backoffPolicy", "write `backoffPolicy: exponential`"),
        ("  broker: default\n  delivery: {backoffDelay: 200ms}\n" + subscriber, "spec.delivery.backoffDelay",
         "write \"PT0.2S\" (ISO 8601, as Knative reads it)"),
        ("  broker: default\n  delivery: {backoffDelay: garbage}\n" + subscriber, "spec.delivery.backoffDelay",
         "write an ISO 8601 duration such as \"PT0.2S\", \"PT30S\" or \"PT1M30S\""),
        ("  broker: default\n  delivery: {backoffDelay: -PT1S}\n" + subscriber, "spec.delivery.backoffDelay",
         "write an ISO 8601 duration such as \"PT0.2S\", \"PT30S\" or \"PT1M30S\""),
        ("  broker: default\n  delivery: {backoffDelay: P1M}\n" + subscriber, "spec.delivery.backoffDelay", "write days instead, e.g. \"P30D\""),
        ("  broker: default\n  delivery: {timeout: PT0S}\n" + subscriber, "spec.delivery.timeout",
         "write an ISO 8601 duration such as \"PT0.2S\", \"PT30S\" or \"PT1M30S\""),
        ("  broker: default\n  delivery: {timeout: P2D}\n" + subscriber, "spec.delivery.timeout", "write at most \"P1D\""),
        ("  broker: default\n  delivery: {format: xml}\n" + subscriber, "spec.delivery.format", "write `format: binary`"),
        ("  broker: default\n  delivery: {deadLetterSink: {uri: \"mailto:ops@example.com\"}}\n" + subscriber, "spec.delivery.deadLetterSink.uri",
         "write `uri: http://NAME.NAMESPACE.<domain>/path` (a host Gatehouse serves), or use `ref:` to a Function"),
    ])
    func triggerMistakes(spec: String, field: String, fix: String) {
        let found = diagnostics(Self.trigger(spec), file: "trigger.yaml")
        #expect(found.first?.field == field, "\(found)")
        #expect(found.first?.fix == fix, "\(found)")
        #expect(found.first?.location.file == "trigger.yaml" && (found.first?.location.line ?? 0) >= 4, "\(found)")
    }

    @Test("A CESQL error names the column in the expression, at the line of the expression")
    func cesqlPosition() {
        let found = diagnostics(Self.trigger("  broker: default\n  filters:\n    - cesql: \"type = 'a' AND source LIKE 5\"\n" + Self.subscriber), file: "c.yaml")
        #expect(found.map(\.description) == [
            "c.yaml:7:14: spec.filters[0].cesql: invalid CESQL at column 28: LIKE needs a quoted pattern, e.g. LIKE 'order.%' "
                + "(fix: write a condition such as \"type = 'com.example.created' AND source LIKE '/orders/%'\" (see docs/reference/events.md))",
        ])
    }

    @Test("Hostile filters: huge CESQL and deep nesting are refused, not crashed on")
    func hostileFilters() {
        let huge = String(repeating: "a", count: 5000)
        let found = diagnostics(Self.trigger("  broker: default\n  filters: [{cesql: \"type = '\(huge)'\"}]\n" + Self.subscriber))
        #expect(found.first?.message == "invalid CESQL at column 1: the expression is longer than 4096 bytes", "\(found)")
        let deep = String(repeating: "{not: ", count: 40) + "{exact: {type: a}}" + String(repeating: "}", count: 40)
        let nested = diagnostics(Self.trigger("  broker: default\n  filters: [\(deep)]\n" + Self.subscriber))
        #expect(nested.first?.message == "filters nest more than 16 levels deep", "\(nested)")
    }

    static func pingSource(_ spec: String, apiVersion: String = "sources.knative.dev/v1") -> String {
        "apiVersion: \(apiVersion)\nkind: PingSource\nmetadata: {name: p, namespace: shop}\nspec:\n" + spec + "\n"
    }

    static let sink = "  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}"

    @Test("PingSource mistakes", arguments: [
        ("  schedule: \"*/0 * * * *\"\n" + sink, "spec.schedule",
         "write five fields, minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\" or \"0 9 * * MON-FRI\""),
        ("  schedule: \"61 * * * *\"\n" + sink, "spec.schedule",
         "write five fields, minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\" or \"0 9 * * MON-FRI\""),
        ("  schedule: \"@every 1m\"\n" + sink, "spec.schedule",
         "write five fields, minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\" or \"0 9 * * MON-FRI\""),
        ("  schedule: \"CRON_TZ=UTC * * * * *\"\n  timezone: Europe/Paris\n" + sink, "spec.schedule", "keep `timezone` and remove the prefix"),
        ("  timezone: Europe/Pariss\n" + sink, "spec.timezone", "did you mean `Europe/Paris`?"),
        ("  timezone: Mars/Olympus\n" + sink, "spec.timezone", "write an IANA name such as `Europe/Paris` or `UTC`"),
        ("  data: a\n  dataBase64: YQ==\n" + sink, "spec.dataBase64", "keep one of them"),
        ("  dataBase64: \"not base64!\"\n" + sink, "spec.dataBase64", "encode the bytes with standard base64 (e.g. `base64 -w0 file`)"),
        ("  contentType: application/json\n  data: not json\n" + sink, "spec.data", "write a JSON object such as '{\"message\": \"hello\"}'"),
        ("  contentType: application/json\n  data: '[1, 2]'\n" + sink, "spec.data", "write a JSON object such as '{\"message\": \"hello\"}'"),
        ("  data: {message: hi}\n" + sink, "spec.data", "write a string"),
        ("  ceOverrides: {extensions: {Team: a}}\n" + sink, "spec.ceOverrides.extensions", "write `team`"),
        ("  ceOverrides: {extensions: {type: a}}\n" + sink, "spec.ceOverrides.extensions", "remove it, or use another name"),
        ("  ceOverrides: {extension: {team: a}}\n" + sink, "spec.ceOverrides.extension", "did you mean `extensions`?"),
        ("  schedule: \"* * * * *\"", "spec.sink",
         "add `sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}`"),
        ("  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}, uri: /x}", "spec.sink.uri", "remove `uri`"),
        ("  sink: {ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: c}}", "spec.sink.ref.kind",
         "write `apiVersion: gatehouse.dev/v1` and `kind: Function` (a serving.knative.dev/v1 Service of the same name works too)"),
        ("  jsonData: x\n" + sink, "spec.jsonData", "remove it"),
    ])
    func pingSourceMistakes(spec: String, field: String, fix: String) {
        let found = diagnostics(Self.pingSource(spec), file: "ping.yaml")
        #expect(found.first?.field == field, "\(found)")
        #expect(found.first?.fix == fix, "\(found)")
    }

    @Test("A PingSource's data is bounded (64 KiB), as written or decoded")
    func dataBound() {
        let big = String(repeating: "x", count: PingSourceSpec.maxDataBytes + 1)
        let found = diagnostics(Self.pingSource("  data: \(big)\n" + Self.sink), file: "ping.yaml")
        #expect(found.map(\.description) == [
            "ping.yaml:5:9: spec.data: is 65537 bytes; a PingSource's data may be at most 65536 bytes (fix: send a smaller payload (a reference to the data rather than the data))",
        ])
        let hugeBase64 = String(repeating: "QUFB", count: 40_000)
        #expect(diagnostics(Self.pingSource("  dataBase64: \(hugeBase64)\n" + Self.sink)).first?.field == "spec.dataBase64")
    }

    static func eventPolicy(_ spec: String) -> String {
        "apiVersion: eventing.knative.dev/v1alpha1\nkind: EventPolicy\nmetadata: {name: e, namespace: shop}\nspec:\n" + spec + "\n"
    }

    @Test("EventPolicy mistakes", arguments: [
        ("  from: [{sub: \"a*b\"}]", "spec.from[0].sub", "write e.g. `sub: spiffe://cluster.local/ns/shop/*`"),
        ("  from: [{sub: \"\"}]", "spec.from[0].sub", "write e.g. `sub: spiffe://cluster.local/ns/shop/*`"),
        ("  from: [{}]", "spec.from[0]", "write `sub: system:serviceaccount:NAMESPACE:NAME` (or a SPIFFE ID, or a JWT subject)"),
        ("  from: [{sub: a, ref: {apiVersion: v1, kind: PingSource, name: p}}]", "spec.from[0]",
         "write `sub: system:serviceaccount:NAMESPACE:NAME` (or a SPIFFE ID, or a JWT subject)"),
        ("  from: [{ref: {kind: PingSource, name: p}}]", "spec.from[0].ref.apiVersion", "add `apiVersion: sources.knative.dev/v1`"),
        ("  to: [{ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: c}}]\n  from: [{sub: a}]", "spec.to[0].ref.kind",
         "write `apiVersion: eventing.knative.dev/v1` and `kind: Broker`"),
        ("  to: [{selector: {matchExpressions: [{key: a, operator: Exists}]}}]\n  from: [{sub: a}]", "spec.to[0].selector.matchExpressions",
         "select Brokers with `matchLabels`"),
        ("  to: [{}]\n  from: [{sub: a}]", "spec.to[0]", "write `ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}`"),
        ("  from: [{sub: a}]\n  filters: [{cesql: \"NOT\"}]", "spec.filters[0].cesql",
         "write a condition such as \"type = 'com.example.created' AND source LIKE '/orders/%'\" (see docs/reference/events.md)"),
        ("  form: [{sub: a}]", "spec.form", "did you mean `from`?"),
    ])
    func eventPolicyMistakes(spec: String, field: String, fix: String) {
        let found = diagnostics(Self.eventPolicy(spec), file: "policy.yaml")
        #expect(found.first?.field == field, "\(found)")
        #expect(found.first?.fix == fix, "\(found)")
    }

    @Test("Versions and groups: Knative's served versions only, and Gatehouse's group points to Knative's")
    func versions() {
        let v1beta1 = diagnostics("apiVersion: eventing.knative.dev/v1beta1\nkind: Trigger\nmetadata: {name: t}\nspec: {}\n", file: "v.yaml")
        #expect(v1beta1.map(\.description) == [
            "v.yaml:1:13: apiVersion: Trigger is not served under \"eventing.knative.dev/v1beta1\"; Knative serves it as eventing.knative.dev/v1 (fix: write `apiVersion: eventing.knative.dev/v1`)",
        ])
        let wrongGroup = diagnostics("apiVersion: eventing.knative.dev/v1\nkind: PingSource\nmetadata: {name: p}\nspec: {}\n", file: "v.yaml")
        #expect(wrongGroup.first?.fix == "write `apiVersion: sources.knative.dev/v1`", "\(wrongGroup)")
        let gatehouse = diagnostics("apiVersion: gatehouse.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec: {}\n", file: "v.yaml")
        #expect(gatehouse.first?.fix == "write `apiVersion: eventing.knative.dev/v1` (Knative's kind)", "\(gatehouse)")
        let unknownRoot = diagnostics("apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\nsepc: {}\n", file: "v.yaml")
        #expect(unknownRoot.first?.field == "sepc" && unknownRoot.first?.fix == "did you mean `spec`?", "\(unknownRoot)")
    }

    @Test("Other Knative kinds are noticed and ignored, as any kind Gatehouse does not run")
    func otherKinds() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: sources.knative.dev/v1
            kind: ApiServerSource
            metadata: {name: a}
            spec: {mode: Reference}
            """, file: "o.yaml")
        #expect(snapshot.notices.map(\.message) == ["sources.knative.dev/v1 ApiServerSource default/a: not supported (ignored)"])
    }

    @Test("RateLimitPolicy targetRefs: a kind that is neither a function, a Broker nor a Trigger is refused")
    func rateLimitTargets() {
        let found = diagnostics("""
            apiVersion: gatehouse.dev/v1
            kind: RateLimitPolicy
            metadata: {name: r}
            spec:
              targetRefs: [{kind: Channel, group: messaging.knative.dev, name: default}]
              maxConcurrentRequests: 1
            """)
        #expect(found.first?.message == "targetRefs kind \"Channel\" in group \"messaging.knative.dev\" is not a function or a Broker or a Trigger", "\(found)")
    }
}
