/// One applied resource as its author wrote it: the unit that `apply`, `delete`, `get` and the
/// store work with. Keyed by group, kind, namespace and name, as in Kubernetes.
public struct ResourceDocument: Hashable, Sendable {
    public var key: ResourceKey
    public var apiVersion: String
    /// The document's text, comments included: what the store keeps and `get -o yaml` prints.
    public var text: String
    /// The file it came from, and how many lines of that file precede `text`, so diagnostics
    /// about a stored document still name the original file and line.
    public var file: String
    public var lineOffset: Int

    public init(key: ResourceKey, apiVersion: String, text: String, file: String, lineOffset: Int) {
        self.key = key
        self.apiVersion = apiVersion
        self.text = text
        self.file = file
        self.lineOffset = lineOffset
    }

    /// `file:line` of the document's first line.
    public var origin: String { "\(file):\(lineOffset + 1)" }
}

extension ResourceKey {
    /// The API group of an `apiVersion` (`networking.istio.io/v1` → `networking.istio.io`).
    public static func group(ofAPIVersion apiVersion: String) -> String {
        guard let slash = apiVersion.firstIndex(of: "/") else { return "" }
        return String(apiVersion[..<slash])
    }
}
