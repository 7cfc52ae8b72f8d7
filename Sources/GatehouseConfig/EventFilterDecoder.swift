import GatehouseCore

/// Reads a Trigger's `filter.attributes` and the `filters` list (Knative's Subscriptions API
/// dialect, also EventPolicy's `filters`) with Knative's rules — attribute names are lowercase
/// letters and digits, one dialect per entry, CESQL that parses — and Gatehouse's: an empty
/// `exact`/`prefix`/`suffix` value is an error (Knative accepts it and then silently skips the
/// filter, so the Trigger matches more than it says), nesting is bounded.
enum EventFilterDecoder {
    static let maxNesting = 16
    static let dialects = ["exact", "prefix", "suffix", "all", "any", "not", "cesql"]

    /// `filter.attributes`: exact values; "" means any value, as long as the attribute is there.
    static func attributes(_ value: YAMLValue) -> [String: String] {
        guard let filter = value.mapping() else { return [:] }
        defer { filter.reportUnknownKeys() }
        guard let attributes = filter.field("attributes") else { return [:] }
        return names(attributes, allowingEmptyValues: true) ?? [:]
    }

    static func filters(_ value: YAMLValue) -> [EventFilterSpec] {
        list(value, depth: 1) ?? []
    }

    /// Entries of a list; nil when one of them was wrong (already reported).
    private static func list(_ value: YAMLValue, depth: Int) -> [EventFilterSpec]? {
        guard let items = value.sequence() else { return nil }
        let decoded = items.compactMap { entry(of: $0, depth: depth) }
        return decoded.count == items.count ? decoded : nil
    }

    /// One filter entry: exactly one dialect key (none: an entry that filters nothing).
    private static func entry(of value: YAMLValue, depth: Int) -> EventFilterSpec? {
        guard depth <= maxNesting else {
            value.report("filters nest more than \(maxNesting) levels deep", fix: "flatten the `all`/`any`/`not` nesting")
            return nil
        }
        guard let mapping = value.mapping() else { return nil }
        defer { mapping.reportUnknownKeys() }
        let present = dialects.compactMap { key in mapping.field(key).map { (key, $0) } }
        guard present.count <= 1 else {
            mapping.diagnostics.report(
                at: mapping.location, field: mapping.fieldPath(present[1].0),
                "a filter has one dialect; this one has \(present.map { "`\($0.0)`" }.joined(separator: " and "))",
                fix: "split it into separate list entries (all of them must match), or wrap them in `all:`")
            return nil
        }
        guard let (dialect, body) = present.first else { return .all([]) }
        switch dialect {
        case "exact": return names(body, allowingEmptyValues: false).map(EventFilterSpec.exact)
        case "prefix": return names(body, allowingEmptyValues: false).map(EventFilterSpec.prefix)
        case "suffix": return names(body, allowingEmptyValues: false).map(EventFilterSpec.suffix)
        case "all": return list(body, depth: depth + 1).map(EventFilterSpec.all)
        case "any": return list(body, depth: depth + 1).map(EventFilterSpec.any)
        case "not": return entry(of: body, depth: depth + 1).map(EventFilterSpec.not)
        default: return cesql(body)
        }
    }

    private static func cesql(_ value: YAMLValue) -> EventFilterSpec? {
        guard let text = value.string() else { return nil }
        do {
            _ = try CESQLExpression(parsing: text)
            return .cesql(text)
        } catch {
            value.report(
                "invalid CESQL at column \(error.column): \(error.message)",
                fix: "write a condition such as \"type = 'com.example.created' AND source LIKE '/orders/%'\" (see docs/reference/events.md)")
            return nil
        }
    }

    /// Attribute name → value, names as Knative allows them.
    private static func names(_ value: YAMLValue, allowingEmptyValues: Bool) -> [String: String]? {
        guard let map = value.stringMap() else { return nil }
        var valid = true
        for (name, text) in map.sorted(by: { $0.key < $1.key }) {
            if !EventAttributeName.isValid(name) {
                valid = false
                value.report(
                    "attribute name \"\(name)\" must start with a lowercase letter and have only lowercase letters and digits",
                    fix: "write `\(EventAttributeName.suggestion(for: name))`")
            } else if !allowingEmptyValues, text.isEmpty {
                valid = false
                YAMLValue(node: value.node, path: "\(value.path).\(name)", diagnostics: value.diagnostics).report(
                    "an empty value matches nothing here (Knative would silently skip this filter)",
                    fix: "write the value to match, or remove `\(name)`")
            }
        }
        return valid ? map : nil
    }
}
