import GatehouseCore

/// The scope fields Istio's security policies share: `selector.matchLabels` or `targetRefs`, not both.
enum PolicyScopeDecoder {
    static func decode(_ spec: YAMLMappingReader) -> (selector: [String: String]?, targetNames: [String]) {
        let scope = decode(spec, allowingTriggers: false)
        return (scope.selector, scope.targetNames)
    }

    /// As `decode`, and `targetRefs` may also name Knative Triggers (`RateLimitPolicy`): their
    /// names come back apart from the functions'.
    static func decode(
        _ spec: YAMLMappingReader, allowingTriggers: Bool
    ) -> (selector: [String: String]?, targetNames: [String], triggerNames: [String]) {
        var selector: [String: String]?
        var targetNames: [String] = []
        var triggerNames: [String] = []
        if let mapping = spec.field("selector")?.mapping() {
            selector = mapping.field("matchLabels")?.stringMap() ?? [:]
            mapping.reportUnknownKeys()
        }
        let references = (spec.field("targetRef").map { [$0] } ?? []) + (spec.field("targetRefs")?.sequence() ?? [])
        for value in references {
            switch target(value, allowingTriggers: allowingTriggers) {
            case .function(let name): targetNames.append(name)
            case .trigger(let name): triggerNames.append(name)
            case nil: break
            }
        }
        if selector != nil, !targetNames.isEmpty || !triggerNames.isEmpty {
            spec.diagnostics.report(
                at: spec.location, field: spec.fieldPath("targetRefs"), "`selector` and `targetRefs` cannot both be set",
                fix: "keep one of them")
        }
        return (selector, targetNames, triggerNames)
    }

    private enum Target {
        case function(String)
        case trigger(String)
    }

    /// `targetRefs` may name a function: kind `Service` (core group) or `Function` (`gatehouse.dev`,
    /// or no group); a `Broker` (`eventing.knative.dev`, or no group: its ingress); where allowed, a
    /// `Trigger` (`eventing.knative.dev`, or no group).
    private static func target(_ value: YAMLValue, allowingTriggers: Bool) -> Target? {
        guard let reference = value.mapping() else { return nil }
        defer { reference.reportUnknownKeys() }
        let kind = reference.required("kind", fix: "add `kind: Service`")?.string()
        let group = reference.field("group")?.string() ?? ""
        let name = reference.required("name", fix: "add `name:` with the function's name")?.string()
        _ = reference.field("namespace")
        guard let kind, let name else { return nil }
        if allowingTriggers, kind == "Trigger", group == "eventing.knative.dev" || group.isEmpty { return .trigger(name) }
        // A Broker's ingress is a workload of its own (publishing goes through the policies).
        if kind == "Broker", group == "eventing.knative.dev" || group.isEmpty { return .function(FunctionSpec.brokerIngressName(name)) }
        guard (kind == "Service" && group.isEmpty) || (kind == "Function" && (group == "gatehouse.dev" || group.isEmpty)) else {
            reference.diagnostics.report(
                at: reference.location, field: reference.fieldPath("kind"),
                "targetRefs kind \"\(kind)\"\(group.isEmpty ? "" : " in group \"\(group)\"") is not a function or a Broker\(allowingTriggers ? " or a Trigger" : "")",
                fix: allowingTriggers
                    ? "use `kind: Service` (or `kind: Function` with `group: gatehouse.dev`) and the function's name, `kind: Broker`, or `kind: Trigger` and a Trigger's name"
                    : "use `kind: Service` (or `kind: Function` with `group: gatehouse.dev`) and the function's name, or `kind: Broker` and a Broker's name")
            return nil
        }
        return .function(name)
    }
}
