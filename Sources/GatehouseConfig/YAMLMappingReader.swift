import GatehouseCore
import Yams

/// Reads fields out of one YAML mapping while remembering which keys the decoder asked for,
/// so that whatever is left over can be reported as unknown, with the allowed keys and a suggestion.
final class YAMLMappingReader {
    let mapping: Node.Mapping
    /// Field path of this mapping, e.g. `spec.scaling`; empty for a document root.
    let path: String
    let diagnostics: DiagnosticCollector
    private var knownKeys: [String] = []
    private var ignoredKeys: Set<String> = []
    /// Required keys found missing, and where their diagnostic is.
    private var missingRequired: [String: Int] = [:]

    init(mapping: Node.Mapping, path: String, diagnostics: DiagnosticCollector) {
        self.mapping = mapping
        self.path = path
        self.diagnostics = diagnostics
    }

    var location: SourceLocation { diagnostics.location(of: mapping.mark) }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value under `key`; nil when absent or written as null (Kubernetes treats both alike).
    func field(_ key: String) -> YAMLValue? {
        if !knownKeys.contains(key) { knownKeys.append(key) }
        guard let node = mapping[key], !node.isNull else { return nil }
        return YAMLValue(node: node, path: fieldPath(key), diagnostics: diagnostics)
    }

    /// Like `field`, but a missing value is reported, with `fix` saying what to add.
    func required(_ key: String, fix: String) -> YAMLValue? {
        guard let value = field(key) else {
            missingRequired[key] = diagnostics.diagnostics.count
            diagnostics.report(at: location, field: fieldPath(key), "missing required field `\(key)`", fix: fix)
            return nil
        }
        return value
    }

    /// Keys that may appear but mean nothing to Gatehouse (Kubernetes bookkeeping such as `uid`).
    func ignore(_ keys: some Sequence<String>) {
        ignoredKeys.formUnion(keys)
    }

    /// Reports every key the decoder neither read nor ignored. Call after reading all fields.
    func reportUnknownKeys() {
        for (keyNode, _) in mapping {
            let key = keyNode.scalar?.string ?? keyNode.shortDescription
            guard !knownKeys.contains(key), !ignoredKeys.contains(key) else { continue }
            let allowed = knownKeys.map { "`\($0)`" }.joined(separator: ", ")
            let suggestion = Spelling.suggestion(for: key, among: knownKeys)
            if let suggestion, let index = missingRequired.removeValue(forKey: suggestion) {
                // One mistake, one message: the misspelling of a required field, said where it is.
                diagnostics.replace(at: index, with: ConfigDiagnostic(
                    location: diagnostics.location(of: keyNode.mark, fallback: location), field: fieldPath(key),
                    message: "unknown field `\(key)`; the required field `\(suggestion)` is missing", fix: "did you mean `\(suggestion)`?"))
                continue
            }
            let fix = suggestion.map { "did you mean `\($0)`?" } ?? "remove it"
            diagnostics.report(
                at: diagnostics.location(of: keyNode.mark, fallback: location),
                field: fieldPath(key),
                "unknown field `\(key)`; allowed here: \(allowed)",
                fix: fix
            )
        }
    }
}
