/// The names Knative accepts for CloudEvent attributes in filters and overrides: a lowercase
/// letter, then lowercase letters and digits (Knative's `^[a-z][a-z0-9]*$`).
public enum EventAttributeName {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, first >= UInt8(ascii: "a"), first <= UInt8(ascii: "z") else { return false }
        return name.utf8.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }
    }

    /// `Content-Type` → `contenttype`: what to suggest for a name that is not valid.
    public static func suggestion(for name: String) -> String {
        let kept = name.lowercased().unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        let text = String(String.UnicodeScalarView(kept.drop { ("0"..."9").contains($0) }))
        return text.isEmpty ? "myattribute" : text
    }
}
