import GatehouseCore

/// The scope fields Istio's security policies share: `selector.matchLabels` or `targetRefs`, not both.
enum PolicyScopeDecoder {
    static func decode(_ spec: YAMLMappingReader) -> (selector: [String: String]?, targetNames: [String]) {
        var selector: [String: String]?
        var targetNames: [String] = []
        if let mapping = spec.field("selector")?.mapping() {
            selector = mapping.field("matchLabels")?.stringMap() ?? [:]
            mapping.reportUnknownKeys()
        }
        if let single = spec.field("targetRef") {
            targetNames += targetName(single).map { [$0] } ?? []
        }
        for value in spec.field("targetRefs")?.sequence() ?? [] {
            if let name = targetName(value) { targetNames.append(name) }
        }
        if selector != nil, !targetNames.isEmpty {
            spec.diagnostics.report(
                at: spec.location, field: spec.fieldPath("targetRefs"), "`selector` and `targetRefs` cannot both be set",
                fix: "keep one of them")
        }
        return (selector, targetNames)
    }

    /// `targetRefs` may name a function: kind `Service` (core group) or `Function` (`gatehouse.dev`, or no group).
    private static func targetName(_ value: YAMLValue) -> String? {
        guard let reference = value.mapping() else { return nil }
        defer { reference.reportUnknownKeys() }
        let kind = reference.required("kind", fix: "add `kind: Service`")?.string()
        let group = reference.field("group")?.string() ?? ""
        let name = reference.required("name", fix: "add `name:` with the function's name")?.string()
        _ = reference.field("namespace")
        guard let kind, let name else { return nil }
        guard (kind == "Service" && group.isEmpty) || (kind == "Function" && (group == "gatehouse.dev" || group.isEmpty)) else {
            reference.diagnostics.report(
                at: reference.location, field: reference.fieldPath("kind"),
                "targetRefs kind \"\(kind)\"\(group.isEmpty ? "" : " in group \"\(group)\"") is not a function",
                fix: "use `kind: Service` (or `kind: Function` with `group: gatehouse.dev`) and the function's name")
            return nil
        }
        return name
    }
}
