/// Names a resource the way Kubernetes does: group, kind, namespace and name.
public struct ResourceKey: Hashable, Sendable, CustomStringConvertible {
    public var group: String
    public var kind: String
    public var namespace: String
    public var name: String

    public init(group: String, kind: String, namespace: String, name: String) {
        self.group = group
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(kind) \(namespace)/\(name)" }

    /// A `gatehouse.dev` Function: the kind that has revisions.
    public var isFunction: Bool { group == "gatehouse.dev" && kind == "Function" }
}

/// Where a document came from, so every diagnostic can name file and line.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int = 1) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    /// The directory part of `file` (`.` when it has none).
    public var directory: String { Self.directory(of: file) }

    public static func directory(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }
}
