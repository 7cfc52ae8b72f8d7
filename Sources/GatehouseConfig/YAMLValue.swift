import GatehouseCore
import Yams

/// One YAML node plus the field path that leads to it, with typed accessors that report
/// a diagnostic (and return nil) instead of throwing, so decoding continues past a bad value.
struct YAMLValue {
    let node: Node
    let path: String
    let diagnostics: DiagnosticCollector

    var location: SourceLocation { diagnostics.location(of: node.mark) }

    func report(_ message: String, fix: String? = nil) {
        diagnostics.report(at: location, field: path, message, fix: fix)
    }

    /// A string, accepted only when YAML reads it as one (`10` or `true` unquoted are not strings).
    func string() -> String? {
        if case .scalar(let scalar) = node, node.scalarType == .string { return scalar.string }
        let fix = node.scalar.map { "quote it: \"\($0.string)\"" } ?? "write a string"
        report("expected a string, got \(node.shortDescription)", fix: fix)
        return nil
    }

    /// One of an enum's raw values (a mode, an action); anything else is reported as
    /// `unknown WHAT "x"; allowed: …` with the closest spelling as the fix (`write \`KEY: Y\``),
    /// else `otherwise`.
    func oneOf<T: RawRepresentable & CaseIterable>(_ type: T.Type, what: String, key: String, otherwise: String) -> T?
    where T.RawValue == String {
        guard let text = string() else { return nil }
        if let value = T(rawValue: text) { return value }
        let allowed = T.allCases.map(\.rawValue)
        report(
            "unknown \(what) \"\(text)\"; allowed: \(allowed.joined(separator: ", "))",
            fix: Spelling.suggestion(for: text, among: allowed).map { "write `\(key): \($0)`" } ?? otherwise)
        return nil
    }

    /// Any scalar as its text, for places (env values) where `8080` and `true` plainly mean text.
    func text() -> String? {
        if case .scalar(let scalar) = node, node.scalarType != .null { return scalar.string }
        report("expected a string, got \(node.shortDescription)", fix: "write a string")
        return nil
    }

    func int() -> Int? {
        if case .scalar(let scalar) = node, node.scalarType == .int, let value = Int.construct(from: scalar) {
            return value
        }
        var fix = "write a whole number, e.g. 10"
        if let text = node.scalar?.string, let value = Int(text) { fix = "write \(value) without quotes" }
        report("expected an integer, got \(node.shortDescription)", fix: fix)
        return nil
    }

    func bool() -> Bool? {
        if case .scalar(let scalar) = node, node.scalarType == .bool, let value = Bool.construct(from: scalar) {
            return value
        }
        report("expected true or false, got \(node.shortDescription)", fix: "write true or false without quotes")
        return nil
    }

    /// A Go-syntax duration; only strings, because a bare `300` has no unit to read.
    func duration() -> Duration? {
        let fix = "write a duration such as \"300s\" or \"500ms\""
        guard case .scalar(let scalar) = node, node.scalarType == .string else {
            report("expected a duration string, got \(node.shortDescription)", fix: fix)
            return nil
        }
        guard let duration = Duration(parsing: scalar.string) else {
            report("invalid duration \"\(scalar.string)\"", fix: fix)
            return nil
        }
        return duration
    }

    /// A duration that must be longer than zero (timeouts).
    func positiveDuration() -> Duration? {
        guard let duration = duration() else { return nil }
        guard duration > .zero else {
            report("must be greater than 0, got \"\(node.scalar?.string ?? "")\"", fix: "write a duration such as \"300s\" or \"500ms\"")
            return nil
        }
        return duration
    }

    func mapping() -> YAMLMappingReader? {
        guard case .mapping(let mapping) = node else {
            report("expected a mapping, got \(node.shortDescription)", fix: "write `key: value` lines indented under it")
            return nil
        }
        return YAMLMappingReader(mapping: mapping, path: path, diagnostics: diagnostics)
    }

    func sequence() -> [YAMLValue]? {
        guard case .sequence(let sequence) = node else {
            report("expected a list, got \(node.shortDescription)", fix: "write a list, e.g. [\"a\", \"b\"] or `- a` lines")
            return nil
        }
        return sequence.enumerated().map { index, element in
            YAMLValue(node: element, path: "\(path)[\(index)]", diagnostics: diagnostics)
        }
    }

    /// A list of strings; nil if it or any element is wrong (each wrong element is reported).
    func stringList() -> [String]? {
        guard let elements = sequence() else { return nil }
        let strings = elements.map { $0.string() }
        return strings.contains(where: { $0 == nil }) ? nil : strings.compactMap { $0 }
    }

    /// A string-to-string map (labels); each bad key or value is reported.
    func stringMap() -> [String: String]? {
        guard case .mapping(let mapping) = node else {
            report("expected a mapping of strings, got \(node.shortDescription)", fix: "write `key: value` lines indented under it")
            return nil
        }
        var result: [String: String] = [:]
        var valid = true
        for (key, value) in mapping {
            guard let name = YAMLValue(node: key, path: path, diagnostics: diagnostics).string() else {
                valid = false
                continue
            }
            guard let text = YAMLValue(node: value, path: "\(path).\(name)", diagnostics: diagnostics).string() else {
                valid = false
                continue
            }
            result[name] = text
        }
        return valid ? result : nil
    }
}

/// How YAML (1.1 core schema, as Kubernetes reads it) resolved a scalar.
enum ScalarType {
    case string, int, float, bool, null, other
}

extension Node {
    var scalarType: ScalarType? {
        guard case .scalar = self else { return nil }
        switch tag.description {
        case Tag.Name.str.rawValue: return .string
        case Tag.Name.int.rawValue: return .int
        case Tag.Name.float.rawValue: return .float
        case Tag.Name.bool.rawValue: return .bool
        case Tag.Name.null.rawValue: return .null
        default: return .other
        }
    }

    var isNull: Bool { scalarType == .null }

    /// What a value looks like in a "got …" message: strings quoted, other scalars as written.
    var shortDescription: String {
        switch self {
        case .scalar(let scalar):
            switch scalarType {
            case .string: return "\"\(scalar.string)\""
            case .null: return "null"
            default: return scalar.string
            }
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}
