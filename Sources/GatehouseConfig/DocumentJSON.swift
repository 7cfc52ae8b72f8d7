import Foundation
import Yams

/// A stored YAML document as a JSON object, for output shaped as `kubectl get -o json` prints it
/// (the document as applied, with Gatehouse's `status` beside it).
public enum DocumentJSON {
    /// Nil when the text is not one YAML mapping. Scalars keep YAML's types (numbers, booleans).
    public static func object(fromYAML text: String) -> [String: Any]? {
        guard let loaded = try? Yams.load(yaml: text) else { return nil }
        return jsonCompatible(loaded) as? [String: Any]
    }

    private static func jsonCompatible(_ value: Any) -> Any {
        switch value {
        case let mapping as [AnyHashable: Any]:
            var object: [String: Any] = [:]
            for (key, item) in mapping { object["\(key)"] = jsonCompatible(item) }
            return object
        case let sequence as [Any]:
            return sequence.map(jsonCompatible)
        case let date as Date:
            return ISO8601DateFormatter().string(from: date)
        case let data as Data:
            return data.base64EncodedString()
        case is NSNull, is String, is Int, is Double, is Bool:
            return value
        default:
            return "\(value)"
        }
    }
}
