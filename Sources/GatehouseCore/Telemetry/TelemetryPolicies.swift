/// Istio's Telemetry precedence, worked out once per snapshot (`pilot/pkg/model/telemetry.go`):
///
/// - Levels, parent first: the root namespace's namespace-wide Telemetry (mesh-wide), the
///   workload's namespace's namespace-wide one, then the first workload-level one in that namespace
///   that selects it (`selector.matchLabels` against its instances' labels, or `targetRefs`). A
///   selector in the root namespace selects workloads of the root namespace only.
/// - Several candidates for one level: Istio takes the oldest, then the first by name; Gatehouse
///   treats every Telemetry as created at once, so the first by name wins (and a notice says so).
/// - `tracing`: the latest level that names providers picks the provider (the first one named);
///   `randomSamplingPercentage`, `disableSpanReporting` and `customTags` (whole) come from the
///   latest level that writes them.
/// - `accessLogging` and `metrics`: the latest level that names providers decides which are in
///   scope; a rule without providers applies to its parent's; `disabled` turns a provider off, a
///   later rule on again. A filter belongs to the providers its rule names. Metric overrides merge
///   per metric and tag (later wins); disabling `ALL_METRICS` turns the provider off until a later
///   override for it.
/// - Gatehouse reports as the server side (`reporter="destination"`): rules for `mode: CLIENT` only
///   are left out when decoding.
public struct TelemetryPolicies: Sendable {
    /// For requests that reach no function (a route miss): the mesh-wide Telemetry only.
    public let mesh: TelemetryPolicy
    /// Every request header an expression or a custom trace tag reads (lower case), to be kept on the record.
    public let headerNames: [String]
    private let byNamespace: [String: [TelemetrySpec]]
    private let settings: MeshSpec

    /// No Telemetry, default Mesh: every revision gets `TelemetryPolicy.default`.
    public static let none = TelemetryPolicies(telemetries: [], mesh: MeshSpec())

    public init(telemetries: [TelemetrySpec], mesh: MeshSpec) {
        byNamespace = Dictionary(grouping: telemetries, by: \.namespace).mapValues { $0.sorted { $0.name < $1.name } }
        settings = mesh
        var names: [String] = []
        for telemetry in telemetries {
            for rule in telemetry.tracing {
                for tag in rule.customTags ?? [] {
                    if case .header(let name, _) = tag.source, !names.contains(name) { names.append(name) }
                }
            }
            for rule in telemetry.accessLogging { rule.filter?.collectHeaders(into: &names) }
            for rule in telemetry.metrics {
                for override in rule.overrides {
                    for tag in override.tagOverrides {
                        if case .upsert(.attribute(.requestHeader(let name))) = tag.operation, !names.contains(name) { names.append(name) }
                    }
                }
            }
        }
        headerNames = names
        self.mesh = Self.merge(Self.levels(in: byNamespace, root: mesh.rootNamespace, revision: nil), settings: mesh)
    }

    /// The policy for one revision (called per serving revision when a snapshot is built).
    public func policy(for revision: FunctionSpec) -> TelemetryPolicy {
        let levels = levels(for: revision)
        return levels.isEmpty && self.isDefault ? .default : Self.merge(levels, settings: settings)
    }

    /// The Telemetries that make a revision's policy, parent first (mesh, namespace, workload).
    public func levels(for revision: FunctionSpec?) -> [TelemetrySpec] {
        Self.levels(in: byNamespace, root: settings.rootNamespace, revision: revision)
    }

    /// Telemetries that lose to another at the same level: namespace-wide ones beside an earlier
    /// one of their namespace, and workload ones that select a revision an earlier one selects.
    public func shadowed(revisions: [FunctionSpec]) -> [(loser: TelemetrySpec, winner: TelemetrySpec)] {
        var found: [(loser: TelemetrySpec, winner: TelemetrySpec)] = []
        for (_, telemetries) in byNamespace.sorted(by: { $0.key < $1.key }) {
            let wide = telemetries.filter(\.isNamespaceWide)
            for loser in wide.dropFirst() { found.append((loser: loser, winner: wide[0])) }
        }
        for revision in revisions {
            let selecting = (byNamespace[revision.namespace] ?? []).filter { $0.selects(revision) }
            for loser in selecting.dropFirst() where !found.contains(where: { $0.loser == loser && $0.winner == selecting[0] }) {
                found.append((loser: loser, winner: selecting[0]))
            }
        }
        return found
    }

    private var isDefault: Bool {
        byNamespace.isEmpty && settings.defaultProviders == DefaultTelemetryProviders() && settings.tracingSampling == 1.0
    }

    private static func levels(in byNamespace: [String: [TelemetrySpec]], root: String, revision: FunctionSpec?) -> [TelemetrySpec] {
        func namespaceWide(_ namespace: String) -> TelemetrySpec? { byNamespace[namespace]?.first(where: \.isNamespaceWide) }
        var levels: [TelemetrySpec] = []
        if let mesh = namespaceWide(root) { levels.append(mesh) }
        guard let revision else { return levels }
        if revision.namespace != root, let namespace = namespaceWide(revision.namespace) { levels.append(namespace) }
        if let workload = byNamespace[revision.namespace]?.first(where: { $0.selects(revision) }) { levels.append(workload) }
        return levels
    }

    static func merge(_ levels: [TelemetrySpec], settings: MeshSpec) -> TelemetryPolicy {
        TelemetryPolicy(
            tracing: tracing(levels.flatMap(\.tracing), settings: settings),
            accessLogging: accessLogging(levels.map(\.accessLogging).filter { !$0.isEmpty }, defaults: settings.defaultProviders),
            metrics: metrics(levels.flatMap(\.metrics), defaults: settings.defaultProviders))
    }

    private static func tracing(_ rules: [TelemetrySpec.Tracing], settings: MeshSpec) -> TracingPolicy {
        var provider = settings.defaultProviders.effectiveTracing.first
        var sampling: Double?
        var disabled: Bool?
        var tags: [CustomTag]?
        for rule in rules {
            if let first = rule.providers.first { provider = first }
            sampling = rule.randomSamplingPercentage ?? sampling
            disabled = rule.disableSpanReporting ?? disabled
            tags = rule.customTags ?? tags
        }
        let collector = provider.flatMap { name in settings.tracingProviders.first { $0.name.lowercased() == name.lowercased() } }
        return TracingPolicy(
            providers: collector.map { [$0] } ?? [], randomSamplingPercentage: sampling ?? settings.tracingSampling,
            customTags: tags ?? [], disableSpanReporting: disabled ?? false)
    }

    /// `levels`: each level's accessLogging rules, levels without any left out.
    private static func accessLogging(_ levels: [[TelemetrySpec.AccessLogging]], defaults: DefaultTelemetryProviders) -> AccessLoggingPolicy {
        let builtIn = BuiltInTelemetryProvider.accessLog
        guard !levels.isEmpty else {
            // No Telemetry says anything: the default providers, or (none declared) Istio's legacy
            // mesh-wide log, which is Gatehouse's `--access-log`.
            let names = defaults.effectiveAccessLogging
            return AccessLoggingPolicy(isEnabled: names.isEmpty || names.contains { $0.lowercased() == builtIn })
        }
        var inScope = defaults.effectiveAccessLogging
        var filters: [String: TelemetryExpression] = [:]
        for rules in levels {
            var named: [String] = []
            for rule in rules {
                named += rule.providers
                for provider in rule.providers { filters[provider] = rule.filter }
            }
            if !named.isEmpty { inScope = named }
        }
        var parent = defaults.effectiveAccessLogging
        var active: [String: TelemetryExpression?] = [:]
        for rule in levels.joined() {
            let names = rule.providers.isEmpty ? parent : rule.providers
            parent = names
            for name in names where inScope.contains(name) {
                if rule.disabled == true { active[name] = nil } else { active[name] = .some(filters[name]) }
            }
        }
        guard let entry = active.first(where: { $0.key.lowercased() == builtIn }) else { return AccessLoggingPolicy(isEnabled: false) }
        return AccessLoggingPolicy(isEnabled: true, filter: entry.value)
    }

    private static func metrics(_ rules: [TelemetrySpec.Metrics], defaults: DefaultTelemetryProviders) -> MetricsPolicy {
        let prometheus = BuiltInTelemetryProvider.metrics
        func hasPrometheus(_ names: [String]) -> Bool { names.contains { $0.lowercased() == prometheus } }
        var inScope = defaults.effectiveMetrics
        for rule in rules where !rule.providers.isEmpty { inScope = rule.providers }
        guard hasPrometheus(inScope) else { return MetricsPolicy(disabled: Set(IstioMetric.allCases)) }
        var parent = defaults.effectiveMetrics
        var allDisabled = false
        var disabled: [IstioMetric: Bool] = [:]
        var tags: [IstioMetric: [String: TagOverride]] = [:]
        for rule in rules {
            let names = rule.providers.isEmpty ? parent : rule.providers
            parent = names
            guard hasPrometheus(names) else { continue }
            for override in rule.overrides {
                if override.matchesAll, override.disabled == true {
                    allDisabled = true
                    continue
                }
                allDisabled = false
                for metric in override.metrics {
                    if let value = override.disabled { disabled[metric] = value }
                    for tag in override.tagOverrides { tags[metric, default: [:]][tag.name] = tag }
                }
            }
        }
        if allDisabled { return MetricsPolicy(disabled: Set(IstioMetric.allCases)) }
        return MetricsPolicy(
            disabled: Set(disabled.filter(\.value).keys),
            tagOverrides: tags.mapValues { $0.values.sorted { $0.name < $1.name } })
    }
}

extension TelemetryExpression {
    func collectHeaders(into names: inout [String]) {
        switch self {
        case .constant: break
        case .not(let inner): inner.collectHeaders(into: &names)
        case .and(let left, let right), .or(let left, let right):
            left.collectHeaders(into: &names)
            right.collectHeaders(into: &names)
        case .comparison(let left, _, let right):
            for case .attribute(.requestHeader(let name)) in [left, right] where !names.contains(name) { names.append(name) }
        }
    }
}
