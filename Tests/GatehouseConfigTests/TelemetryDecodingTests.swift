import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Decoding Telemetry and telemetry providers")
struct TelemetryDecodingTests {
    static let mesh = """
        apiVersion: gatehouse.dev/v1
        kind: Mesh
        metadata: {name: mesh}
        spec:
          extensionProviders:
          - name: otel
            opentelemetry:
              service: 127.0.0.1
              port: 4318
              http:
                path: /v1/traces
                timeout: 5s
                headers:
                - {name: x-api-key, value: secret}
          defaultProviders:
            tracing: [otel]
          defaultConfig:
            tracing: {sampling: 10}
        ---

        """

    @Test("An opentelemetry provider, defaultProviders and the default sampling decode")
    func meshProviders() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.mesh, file: "mesh.yaml")
        let provider = try #require(snapshot.mesh.tracingProviders.first)
        #expect(provider == OpenTelemetryProvider(
            name: "otel", service: "127.0.0.1", port: 4318, path: "/v1/traces", timeout: .seconds(5),
            headers: [.init(name: "x-api-key", value: "secret")]))
        #expect(provider.endpoint == "http://127.0.0.1:4318/v1/traces")
        #expect(snapshot.mesh.defaultProviders.tracing == ["otel"])
        #expect(snapshot.mesh.tracingSampling == 10)
        #expect(snapshot.telemetryPolicies.mesh.tracing.providers == [provider])
    }

    @Test("An opentelemetry provider without http: is an error that says how to write it")
    func grpcOnly() {
        let found = diagnostics("""
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              extensionProviders:
              - name: otel
                opentelemetry: {service: collector, port: 4317}
            """)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.location.line == 7)
        #expect(found.first?.field == "spec.extensionProviders[0].opentelemetry.http")
        #expect(found.first?.fix == "add `http: {path: /v1/traces}` and use the collector's OTLP/HTTP port (4318)")
    }

    @Test("A Telemetry decodes: scope, tracing, access logging, metrics")
    func decodes() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.mesh + """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: api, namespace: shop}
            spec:
              selector: {matchLabels: {app: api}}
              tracing:
              - providers: [{name: otel}]
                randomSamplingPercentage: 25.5
                disableSpanReporting: false
                customTags:
                  team: {literal: {value: shop}}
                  tenant: {header: {name: X-Tenant, defaultValue: none}}
                  zone: {environment: {name: ZONE}}
              accessLogging:
              - providers: [{name: envoy}]
                filter: {expression: "response.code >= 400"}
              metrics:
              - providers: [{name: prometheus}]
                overrides:
                - match: {metric: REQUEST_SIZE}
                  disabled: true
                - match: {metric: REQUEST_COUNT, mode: SERVER}
                  tagOverrides:
                    request_host: {value: request.host}
                    source_app: {operation: REMOVE}
            """, file: "t.yaml")
        let telemetry = try #require(snapshot.telemetries.first)
        #expect(telemetry.selector == ["app": "api"] && telemetry.reference == "shop/api")
        let tracing = try #require(telemetry.tracing.first)
        #expect(tracing.providers == ["otel"] && tracing.randomSamplingPercentage == 25.5 && tracing.disableSpanReporting == false)
        #expect(tracing.customTags?.map(\.name).sorted() == ["team", "tenant", "zone"])
        #expect(tracing.customTags?.contains(CustomTag(name: "tenant", source: .header(name: "x-tenant", defaultValue: "none"))) == true)
        let errorsOnly = try TelemetryExpression(parsing: "response.code >= 400")
        #expect(telemetry.accessLogging.first?.filter == errorsOnly)
        let overrides = try #require(telemetry.metrics.first?.overrides)
        #expect(overrides[0].metrics == [.requestSize] && overrides[0].disabled == true)
        #expect(overrides[1].tagOverrides.map(\.name).sorted() == ["request_host", "source_app"])
        #expect(snapshot.notices.isEmpty, "\(snapshot.notices)")
    }

    @Test("Fields Gatehouse does not act on are notices, not silence")
    func notices() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.mesh + """
            apiVersion: telemetry.istio.io/v1alpha1
            kind: Telemetry
            metadata: {name: t, namespace: shop}
            spec:
              tracing:
              - providers: [{name: otel}]
                useRequestIdForTraceSampling: true
              - match: {mode: CLIENT}
                randomSamplingPercentage: 100
              accessLogging:
              - filter: {expression: "response.code >= 500"}
              metrics:
              - reportingInterval: 15s
                overrides:
                - match: {metric: TCP_OPENED_CONNECTIONS}
                  disabled: true
            """, file: "t.yaml")
        let notices = snapshot.notices.map(\.message)
        #expect(notices.count == 5, "\(notices)")
        #expect(notices.contains { $0.contains("useRequestIdForTraceSampling is not supported") })
        #expect(notices.contains { $0.contains("tracing[1] is for `mode: CLIENT` only") })
        #expect(notices.contains { $0.contains("add `providers: [{name: envoy}]`") })
        #expect(notices.contains { $0.contains("reportingInterval is not supported") })
        #expect(notices.contains { $0.contains("no TCP_OPENED_CONNECTIONS metric") })
        #expect(snapshot.telemetries.first?.tracing.count == 1, "the CLIENT-only rule does not apply")
    }

    @Test("Mistakes are reported with line, field and fix", arguments: [
        ("  accessLogging:\n  - filter: {expression: \"response.code >= '400'\"}", 6, "spec.accessLogging[0].filter.expression"),
        ("  accessLogging:\n  - providers: [{name: stdout}]", 6, "spec.accessLogging[0].providers[0].name"),
        ("  tracing:\n  - providers: [{name: zipkin}]", 6, "spec.tracing[0].providers[0].name"),
        ("  metrics:\n  - overrides: [{match: {metric: REQUEST_CONT}}]", 6, "spec.metrics[0].overrides[0].match.metric"),
        ("  metrics:\n  - overrides:\n    - tagOverrides: {host: {value: \"request.host + 'x'\"}}", 7, "spec.metrics[0].overrides[0].tagOverrides.host.value"),
        ("  tracing:\n  - randomSamplingPercentage: 150", 6, "spec.tracing[0].randomSamplingPercentage"),
        ("  tracing:\n  - customTags: {a: {literal: {value: x}, header: {name: y}}}", 6, "spec.tracing[0].customTags.a"),
        ("  tracing:\n  - samplingPercentage: 5", 6, "spec.tracing[0].samplingPercentage"),
    ])
    func mistakes(_ spec: String, _ line: Int, _ field: String) {
        let found = diagnostics("apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n" + spec + "\n")
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.location.line == line, "\(found)")
        #expect(found.first?.field == field, "\(found)")
    }

    @Test("Unknown providers name the declared ones; the filter error names the supported forms")
    func providerAndFilterMessages() {
        let unknown = diagnostics(Self.mesh + """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: t}
            spec:
              tracing: [{providers: [{name: otle}]}]
            """)
        #expect(unknown.first?.message == "tracing provider \"otle\" is not declared; tracing providers (opentelemetry): otel")
        #expect(unknown.first?.fix == "did you mean \"otel\"?")
        let filter = diagnostics("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: t}
            spec:
              accessLogging: [{providers: [{name: envoy}], filter: {expression: "response.duration > 1000"}}]
            """)
        #expect(filter.first?.message.contains("outside the filter subset") == true)
        #expect(filter.first?.fix?.contains("request.headers['name']") == true)
    }

    @Test("Two namespace-wide Telemetries in one namespace: the first by name applies, and a notice says so")
    func shadowedNotice() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: b, namespace: shop}
            spec: {accessLogging: [{disabled: true}]}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: a, namespace: shop}
            spec: {accessLogging: [{providers: [{name: envoy}]}]}
            """, file: "t.yaml")
        #expect(snapshot.notices.map(\.message) == [
            "Telemetry shop/b is ignored where Telemetry shop/a applies: one Telemetry per level (namespace-wide), the first by name (Istio takes the oldest)",
        ])
    }

    @Test("Provider names are unique across kinds and cannot take a built-in name")
    func uniqueNames() {
        let found = diagnostics("""
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              extensionProviders:
              - name: shared
                envoyExtAuthzHttp: {service: 127.0.0.1, port: 9000}
              - name: shared
                opentelemetry: {service: 127.0.0.1, port: 4318, http: {}}
              - name: envoy
                opentelemetry: {service: 127.0.0.1, port: 4318, http: {}}
            """)
        #expect(found.map(\.location.line) == [8, 10], "\(found)")
    }
}
