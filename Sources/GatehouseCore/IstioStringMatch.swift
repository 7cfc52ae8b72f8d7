/// Istio's string matching: `*` is "present and not empty", `abc*` a prefix, `*abc` a suffix,
/// anything else exact. Shared by the authorization engine and the delegation rules, so a
/// principal pattern means the same in an AuthorizationPolicy and a DelegationPolicy.
///
/// Compared as UTF-8 bytes, as Envoy compares them: Swift's `String` comparison would apply Unicode
/// canonical equivalence, which is both slower and not what the proxy on the wire does.
public enum IstioStringMatch {
    public static func matches(_ pattern: String, _ value: String, caseInsensitive: Bool = false) -> Bool {
        if caseInsensitive { return matches(pattern.lowercased(), value.lowercased()) }
        let pattern = pattern.utf8, value = value.utf8
        let star = UInt8(ascii: "*")
        if pattern.count == 1, pattern.first == star { return !value.isEmpty }
        // A leading `*` is read first, as Istio's `StringMatcherWithPrefix` does: `*abc*` is the
        // suffix `abc*`, not the prefix `*abc`.
        if pattern.first == star { return value.count >= pattern.count - 1 && value.reversed().starts(with: pattern.dropFirst().reversed()) }
        if pattern.last == star { return value.starts(with: pattern.dropLast()) }
        return pattern.elementsEqual(value)
    }
}
