import GatehouseCore
import Testing

/// Istio's Telemetry precedence (`pilot/pkg/model/telemetry.go`): mesh → namespace → workload,
/// one Telemetry per level, fields merged as Istio merges them.
@Suite("Telemetry precedence")
struct TelemetryPrecedenceTests {
    static let collector = OpenTelemetryProvider(name: "otel", service: "collector", port: 4318)
    static let other = OpenTelemetryProvider(name: "other", service: "other", port: 4318)
    static var mesh: MeshSpec {
        var mesh = MeshSpec()
        mesh.tracingProviders = [collector, other]
        return mesh
    }

    static func function(_ name: String, namespace: String = "shop", labels: [String: String] = [:]) -> FunctionSpec {
        FunctionSpec(name: name, namespace: namespace, labels: labels, process: .init(command: ["./server"]))
    }

    static func telemetry(_ name: String, in namespace: String, selector: [String: String]? = nil, _ edit: (inout TelemetrySpec) -> Void) -> TelemetrySpec {
        var spec = TelemetrySpec(namespace: namespace, name: name)
        spec.selector = selector
        edit(&spec)
        return spec
    }

    static func tracing(providers: [String] = [], sampling: Double? = nil, tags: [CustomTag]? = nil, disabled: Bool? = nil) -> TelemetrySpec.Tracing {
        var rule = TelemetrySpec.Tracing()
        rule.providers = providers
        rule.randomSamplingPercentage = sampling
        rule.customTags = tags
        rule.disableSpanReporting = disabled
        return rule
    }

    static func logging(providers: [String] = [], disabled: Bool? = nil, filter: String? = nil) throws -> TelemetrySpec.AccessLogging {
        var rule = TelemetrySpec.AccessLogging()
        rule.providers = providers
        rule.disabled = disabled
        rule.filter = try filter.map { try TelemetryExpression(parsing: $0) }
        return rule
    }

    @Test("Nothing configured: no tracing, 1 % sampling, the access log and every metric on")
    func defaults() {
        let policy = TelemetryPolicies(telemetries: [], mesh: MeshSpec()).policy(for: Self.function("api"))
        #expect(policy.tracing.providers.isEmpty && !policy.tracing.reportsSpans)
        #expect(policy.tracing.randomSamplingPercentage == 1.0)
        #expect(policy.accessLogging.isEnabled && policy.accessLogging.filter == nil)
        #expect(policy.metrics.disabled.isEmpty)
    }

    @Test("Mesh, namespace and workload levels: later levels override field by field")
    func tracingLevels() {
        let tag = CustomTag(name: "team", source: .literal("shop"))
        let telemetries = [
            Self.telemetry("mesh-default", in: "istio-system") { $0.tracing = [Self.tracing(providers: ["otel"], sampling: 10, tags: [tag])] },
            Self.telemetry("shop-wide", in: "shop") { $0.tracing = [Self.tracing(sampling: 50)] },
            Self.telemetry("api-only", in: "shop", selector: ["app": "api"]) { $0.tracing = [Self.tracing(providers: ["other"], disabled: true)] },
        ]
        let policies = TelemetryPolicies(telemetries: telemetries, mesh: Self.mesh)
        let api = policies.policy(for: Self.function("api", labels: ["app": "api"])).tracing
        #expect(api.providers == [Self.other] && api.randomSamplingPercentage == 50 && api.customTags == [tag] && api.disableSpanReporting)
        let web = policies.policy(for: Self.function("web")).tracing
        #expect(web.providers == [Self.collector] && web.randomSamplingPercentage == 50 && !web.disableSpanReporting)
        let elsewhere = policies.policy(for: Self.function("cart", namespace: "cart")).tracing
        #expect(elsewhere.providers == [Self.collector] && elsewhere.randomSamplingPercentage == 10)
        #expect(policies.mesh.tracing.randomSamplingPercentage == 10, "a request that reaches no function: the mesh level")
    }

    @Test("customTags written at a level replace the parent's whole (Istio's shallow merge)")
    func customTagsReplace() {
        let telemetries = [
            Self.telemetry("mesh", in: "istio-system") { $0.tracing = [Self.tracing(providers: ["otel"], tags: [CustomTag(name: "a", source: .literal("1"))])] },
            Self.telemetry("shop", in: "shop") { $0.tracing = [Self.tracing(tags: [CustomTag(name: "b", source: .header(name: "x-b", defaultValue: nil))])] },
        ]
        let tags = TelemetryPolicies(telemetries: telemetries, mesh: Self.mesh).policy(for: Self.function("api")).tracing.customTags
        #expect(tags.map(\.name) == ["b"])
    }

    @Test("The Mesh's defaultProviders and sampling apply where no Telemetry says otherwise")
    func meshDefaults() {
        var mesh = Self.mesh
        mesh.defaultProviders = DefaultTelemetryProviders(tracing: ["otel"])
        mesh.tracingSampling = 25
        let policy = TelemetryPolicies(telemetries: [], mesh: mesh).policy(for: Self.function("api"))
        #expect(policy.tracing.providers == [Self.collector] && policy.tracing.randomSamplingPercentage == 25)
    }

    @Test("Access logging: a namespace disables what the mesh enables; a workload turns it on again with a filter")
    func accessLoggingLevels() throws {
        let telemetries = [
            Self.telemetry("mesh", in: "istio-system") { $0.accessLogging = [try! Self.logging(providers: ["envoy"])] },
            Self.telemetry("quiet", in: "shop") { $0.accessLogging = [try! Self.logging(disabled: true)] },
            Self.telemetry("errors", in: "shop", selector: ["app": "api"]) {
                $0.accessLogging = [try! Self.logging(providers: ["envoy"], filter: "response.code >= 400")]
            },
        ]
        let policies = TelemetryPolicies(telemetries: telemetries, mesh: MeshSpec())
        #expect(policies.policy(for: Self.function("web")).accessLogging.isEnabled == false)
        let api = policies.policy(for: Self.function("api", labels: ["app": "api"])).accessLogging
        let errorsOnly = try TelemetryExpression(parsing: "response.code >= 400")
        #expect(api.isEnabled && api.filter == errorsOnly)
        #expect(policies.policy(for: Self.function("cart", namespace: "cart")).accessLogging.isEnabled)
    }

    @Test("A selector in the root namespace selects workloads of the root namespace only")
    func rootSelector() throws {
        let telemetries = [Self.telemetry("quiet-api", in: "istio-system", selector: ["app": "api"]) { $0.accessLogging = [try! Self.logging(disabled: true)] }]
        let policies = TelemetryPolicies(telemetries: telemetries, mesh: MeshSpec())
        #expect(policies.policy(for: Self.function("api", labels: ["app": "api"])).accessLogging.isEnabled)
        #expect(policies.policy(for: Self.function("api", namespace: "istio-system", labels: ["app": "api"])).accessLogging.isEnabled == false)
    }

    @Test("targetRefs select by function name; selectors see the revision's labels")
    func workloadSelection() throws {
        var byName = Self.telemetry("by-name", in: "shop") { $0.accessLogging = [try! Self.logging(disabled: true)] }
        byName.targetNames = ["api"]
        let byRevision = Self.telemetry("by-revision", in: "shop", selector: ["serving.knative.dev/revision": "web-00001"]) {
            $0.accessLogging = [try! Self.logging(disabled: true)]
        }
        let policies = TelemetryPolicies(telemetries: [byName, byRevision], mesh: MeshSpec())
        #expect(policies.policy(for: Self.function("api")).accessLogging.isEnabled == false)
        #expect(policies.policy(for: Self.function("web")).accessLogging.isEnabled == false)
        #expect(policies.policy(for: Self.function("cart")).accessLogging.isEnabled)
    }

    @Test("Two Telemetries at one level: the first by name applies, the other is reported as shadowed")
    func oneTelemetryPerLevel() {
        let telemetries = [
            Self.telemetry("b-second", in: "shop") { $0.tracing = [Self.tracing(providers: ["otel"], sampling: 90)] },
            Self.telemetry("a-first", in: "shop") { $0.tracing = [Self.tracing(providers: ["otel"], sampling: 5)] },
        ]
        let policies = TelemetryPolicies(telemetries: telemetries, mesh: Self.mesh)
        #expect(policies.policy(for: Self.function("api")).tracing.randomSamplingPercentage == 5)
        let shadowed = policies.shadowed(revisions: [Self.function("api")])
        #expect(shadowed.map { "\($0.loser.name)<\($0.winner.name)" } == ["b-second<a-first"])
    }

    @Test("Metric overrides merge per metric across levels; disabling ALL_METRICS turns metrics off until a later override")
    func metricOverrides() {
        func metrics(_ overrides: [TelemetrySpec.MetricsOverride], providers: [String] = []) -> TelemetrySpec.Metrics {
            var rule = TelemetrySpec.Metrics()
            rule.providers = providers
            rule.overrides = overrides
            return rule
        }
        let host = TagOverride(name: "request_host", operation: .upsert(.attribute(.requestHost)))
        let telemetries = [
            Self.telemetry("mesh", in: "istio-system") {
                $0.metrics = [metrics([.init(metrics: [.requestSize], matchesAll: false, disabled: true, tagOverrides: [host])])]
            },
            Self.telemetry("shop", in: "shop") {
                $0.metrics = [metrics([.init(metrics: [.requestCount], matchesAll: false, tagOverrides: [.init(name: "source_app", operation: .remove)])])]
            },
            Self.telemetry("off", in: "cart") { $0.metrics = [metrics([.init(metrics: IstioMetric.allCases, matchesAll: true, disabled: true)])] },
        ]
        let policies = TelemetryPolicies(telemetries: telemetries, mesh: MeshSpec())
        let shop = policies.policy(for: Self.function("api")).metrics
        #expect(shop.disabled == [.requestSize])
        #expect(shop.tagOverrides[.requestCount]?.map(\.name) == ["source_app"])
        #expect(shop.tagOverrides[.requestSize] == [host])
        #expect(policies.policy(for: Self.function("cart", namespace: "cart")).metrics.disabled == Set(IstioMetric.allCases))
    }

    @Test("A Telemetry naming only another metrics provider leaves prometheus out of scope")
    func providersOverride() {
        var rule = TelemetrySpec.Metrics()
        rule.providers = ["elsewhere"]
        let telemetries = [Self.telemetry("shop", in: "shop") { $0.metrics = [rule] }]
        #expect(TelemetryPolicies(telemetries: telemetries, mesh: MeshSpec()).policy(for: Self.function("api")).metrics.disabled.count == 4)
    }
}
