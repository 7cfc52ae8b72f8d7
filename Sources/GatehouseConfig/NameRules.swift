/// Kubernetes naming rules, checked here so a bad name fails at load time rather than in a hostname or URL.
enum NameRules {
    /// Why `name` is not a DNS-1123 label (lowercase letters, digits and '-', alphanumeric at both ends,
    /// at most 63 characters), or nil when it is one. Function names become `NAME.NAMESPACE.<domain>` hosts.
    static func dns1123LabelProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.count > 63 { return "must be at most 63 characters, got \(name.count)" }
        let allowed = name.allSatisfy { isLowerAlphanumeric($0) || $0 == "-" }
        if !allowed || !isLowerAlphanumeric(name.first!) || !isLowerAlphanumeric(name.last!) {
            return "\"\(name)\" is not a valid DNS-1123 label: use lowercase letters, digits and '-', starting and ending with a letter or digit"
        }
        return nil
    }

    /// The nearest valid label, offered as the fix.
    static func suggestedLabel(for name: String) -> String {
        let mapped = name.lowercased().map { isLowerAlphanumeric($0) ? $0 : "-" }
        var label = String(String(mapped).drop { $0 == "-" }.prefix(63))
        while label.last == "-" { label.removeLast() }
        return label.isEmpty ? "my-function" : label
    }

    private static func isLowerAlphanumeric(_ character: Character) -> Bool {
        character.isASCII && (character.isLowercase || character.isNumber)
    }
}
