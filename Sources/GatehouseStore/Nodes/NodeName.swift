/// A node's name (`gatehouse up --node-name`, default the host name), checked: a DNS-1123
/// subdomain as Kubernetes names nodes — lowercase letters, digits, `-` and `.`, starting and
/// ending with a letter or digit, each dot-separated label at most 63 characters, 253 in all. Such
/// a name fits a host name, a pod name, a log field and a URL without quoting.
public struct NodeName: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    /// Why a name was refused, in words for the person who typed it.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let name: String
        public let reason: String
        public var description: String {
            "node name \"\(name)\" \(reason); use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (for example node-1)"
        }
    }

    public init(validating text: String) throws(Invalid) {
        guard !text.isEmpty else { throw Invalid(name: text, reason: "is empty") }
        guard text.utf8.count <= 253 else { throw Invalid(name: text, reason: "is longer than 253 characters") }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")
        if let bad = text.first(where: { !allowed.contains($0) }) {
            throw Invalid(name: text, reason: bad.isUppercase ? "has an uppercase letter" : "has the character \"\(bad)\"")
        }
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw Invalid(name: text, reason: "has an empty part between dots") }
            guard label.count <= 63 else { throw Invalid(name: text, reason: "has a part longer than 63 characters") }
            guard label.first != "-", label.last != "-" else {
                throw Invalid(name: text, reason: "has a part that starts or ends with '-'")
            }
        }
        value = text
    }

    /// The default name: the host name, lowercased (host names are case-insensitive). Nil when it
    /// is not a valid node name even so; the caller asks for `--node-name`.
    public static func fromHostName(_ hostName: String) -> NodeName? {
        try? NodeName(validating: hostName.lowercased())
    }

    public var description: String { value }
}
