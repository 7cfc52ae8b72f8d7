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

    /// The default name: the host name, lowercased (host names are case-insensitive), with any
    /// other character a name cannot hold made a `-` (`build_01` → `build-01`), so that no host
    /// name stops a single machine from starting; `gatehouse` when nothing is left. Two nodes whose
    /// host names come out the same are told apart by the registry: the second is refused.
    public static func fromHostName(_ hostName: String) -> NodeName {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        let labels = hostName.lowercased().split(separator: ".").map { label in
            String(String(label.map { allowed.contains($0) ? $0 : "-" }).trimmingDashes.prefix(63)).trimmingDashes
        }.filter { !$0.isEmpty }
        var name = ""
        for label in labels where name.utf8.count + label.utf8.count + 1 <= 253 { name += (name.isEmpty ? "" : ".") + label }
        return (try? NodeName(validating: name)) ?? NodeName(checked: "gatehouse")
    }

    private init(checked value: String) { self.value = value }

    public var description: String { value }
}

extension String {
    fileprivate var trimmingDashes: String {
        String(drop { $0 == "-" }.reversed().drop { $0 == "-" }.reversed())
    }
}
