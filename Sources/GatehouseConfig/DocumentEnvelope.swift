import GatehouseCore
import Yams

/// What every Kubernetes-style document carries: apiVersion, kind and metadata, already checked.
struct DocumentEnvelope {
    /// How strictly the rest of the document is read.
    enum Family {
        /// `gatehouse.dev/v1` `Function` / `Mesh` / `RateLimitPolicy` / `LoginPolicy` / `DelegationPolicy`: every field is checked.
        case gatehouse
        /// A known Istio kind under a served version: envelope checked, spec kept as is.
        case istio
        /// Knative Eventing's `Broker`, `Trigger`, `PingSource`, `EventPolicy` under a version
        /// Knative serves: every field of the spec is checked, as for Gatehouse's own kinds.
        case knative
        /// Claims a group Gatehouse or Istio owns but with a kind or version they do not serve: already reported.
        case rejected
        /// Anything else: noticed and ignored.
        case unsupported
    }

    var apiVersion: String
    var kind: String
    var family: Family
    var name: String
    /// The `metadata.name` node, for diagnostics about the name itself; nil when it was missing.
    var nameValue: YAMLValue?
    var namespace: String
    var labels: [String: String]
    /// `metadata.annotations` (string values only; others are ignored).
    var annotations: [String: String]
    /// Where the document starts; becomes `source` on the decoded resource.
    var location: SourceLocation
    var root: YAMLMappingReader

    static let gatehouseAPIVersion = "gatehouse.dev/v1"
    /// The Knative Eventing kinds Gatehouse runs, under the versions Knative serves them.
    static let knativeServedVersions: [String: Set<String>] = [
        "Broker": ["eventing.knative.dev/v1"],
        "Trigger": ["eventing.knative.dev/v1"],
        "EventPolicy": ["eventing.knative.dev/v1alpha1"],
        "PingSource": ["sources.knative.dev/v1", "sources.knative.dev/v1beta2"],
    ]
    static let knativeGroups: Set<String> = ["eventing.knative.dev", "sources.knative.dev"]
    static let gatehouseKinds = ["Function", "Mesh", "RateLimitPolicy", "LoginPolicy", "DelegationPolicy"]

    /// Kubernetes `ObjectMeta` bookkeeping that tools add and Gatehouse does not use.
    static let ignoredMetadataKeys: Set<String> = [
        "generateName", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields",
    ]

    /// Checks the envelope; nil when the document cannot be classified (not a mapping, no apiVersion or kind).
    /// Metadata problems are reported but still yield an envelope so the spec gets checked too.
    static func read(_ node: Node, diagnostics: DiagnosticCollector) -> DocumentEnvelope? {
        guard case .mapping(let mapping) = node else {
            diagnostics.report(
                at: diagnostics.location(of: node.mark), field: "",
                "expected a resource (a mapping with apiVersion, kind, metadata), got \(node.shortDescription)",
                fix: "start the document with `apiVersion:`, `kind:` and `metadata:`")
            return nil
        }
        let root = YAMLMappingReader(mapping: mapping, path: "", diagnostics: diagnostics)
        root.ignore(["status"])
        let apiVersionValue = root.required("apiVersion", fix: "add `apiVersion: \(gatehouseAPIVersion)`")
        let kindValue = root.required("kind", fix: "add `kind: Function` (or the resource's kind)")
        let apiVersion = apiVersionValue?.string()
        let kind = kindValue?.string()
        let metadata = root.required("metadata", fix: "add `metadata:` with a `name:` under it")?.mapping()
        let nameValue = metadata?.required("name", fix: "add `name: my-function`")
        let name = nameValue?.string() ?? ""
        guard let apiVersion, let kind, let apiVersionValue, let kindValue else { return nil }

        let family = classify(apiVersion: apiVersionValue, apiVersion: apiVersion, kind: kindValue, kindName: kind)
        let namespaceValue = metadata?.field("namespace")
        let namespace = namespaceValue?.string() ?? FunctionSpec.defaultNamespace
        // An ignored kind's labels are its own business; only ours must be string to string.
        let labels = family == .unsupported ? [:] : metadata?.field("labels")?.stringMap() ?? [:]
        let annotations = family == .unsupported ? [:] : metadata?.field("annotations")?.stringMap() ?? [:]
        metadata?.ignore(ignoredMetadataKeys)

        if family != .unsupported, let namespaceValue, let problem = NameRules.dns1123LabelProblem(namespace) {
            namespaceValue.report(problem, fix: "write `namespace: \(NameRules.suggestedLabel(for: namespace))`")
        }
        if family == .gatehouse { metadata?.reportUnknownKeys() }

        return DocumentEnvelope(
            apiVersion: apiVersion, kind: kind, family: family, name: name, nameValue: nameValue, namespace: namespace,
            labels: labels, annotations: annotations, location: root.location, root: root)
    }

    /// `KIND NAMESPACE/NAME`, how notices and duplicates name a resource.
    var resourceDescription: String { "\(kind) \(namespace)/\(name)" }

    private static func classify(apiVersion value: YAMLValue, apiVersion: String, kind kindValue: YAMLValue, kindName kind: String) -> Family {
        if apiVersion.hasPrefix("gatehouse.dev/") {
            if apiVersion != gatehouseAPIVersion {
                value.report(
                    "unsupported version \"\(apiVersion)\"; Gatehouse serves \(gatehouseAPIVersion)",
                    fix: "write `apiVersion: \(gatehouseAPIVersion)`")
            }
            guard gatehouseKinds.contains(kind) else {
                let suggestion = Spelling.suggestion(for: kind, among: gatehouseKinds)
                // Events are Knative's kinds, under Knative's groups.
                let knative = knativeServedVersions[kind].map { "write `apiVersion: \($0.sorted()[0])` (Knative's kind)" }
                kindValue.report(
                    "unknown kind \"\(kind)\" for \(gatehouseAPIVersion); known kinds: \(gatehouseKinds.joined(separator: ", "))",
                    fix: knative ?? suggestion.map { "did you mean `\($0)`?" } ?? "write `kind: Function` or `kind: Mesh`")
                return .rejected
            }
            return .gatehouse
        }
        if let served = knativeServedVersions[kind], served.contains(apiVersion) || knativeGroups.contains(String(group(of: apiVersion))) {
            guard served.contains(apiVersion) else {
                let versions = served.sorted()
                value.report(
                    "\(kind) is not served under \"\(apiVersion)\"; Knative serves it as \(versions.joined(separator: ", "))",
                    fix: "write `apiVersion: \(versions.first { !$0.hasSuffix("beta2") } ?? versions[0])`")
                return .rejected
            }
            return .knative
        }
        // Only Istio's own groups count as Istio: the Kubernetes Gateway API also has a `Gateway` kind.
        if let served = IstioResource.servedVersions[kind], served.contains(apiVersion) || group(of: apiVersion).hasSuffix("istio.io") {
            guard served.contains(apiVersion) else {
                let versions = served.sorted()
                let preferred = versions.first { $0.hasSuffix("/v1") } ?? versions[0]
                value.report(
                    "\(kind) is not served under \"\(apiVersion)\"; Istio serves it as \(versions.joined(separator: ", "))",
                    fix: "write `apiVersion: \(preferred)`")
                return .rejected
            }
            return .istio
        }
        return .unsupported
    }

    private static func group(of apiVersion: String) -> Substring {
        guard let slash = apiVersion.firstIndex(of: "/") else { return "" }
        return apiVersion[..<slash]
    }
}
