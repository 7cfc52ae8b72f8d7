/// Changes a stage makes to the request headers the function receives (RequestAuthentication's
/// outputs, an external authorizer's headers): applied once, when the request is forwarded.
public struct HeaderEdits: Sendable, Hashable {
    /// Lower-case names removed before `set` is applied.
    public var remove: [String] = []
    /// Set, replacing any header of the same name.
    public var set: [(name: String, value: String)] = []
    /// Added beside any header of the same name (a VirtualService's `add`).
    public var add: [(name: String, value: String)] = []

    public init() {}

    public var isEmpty: Bool { remove.isEmpty && set.isEmpty && add.isEmpty }

    /// Framing and hop-by-hop headers: Gatehouse writes them itself on both sides (a wrong
    /// `Content-Length` desynchronizes whatever proxy sits in front), so no route edits them —
    /// refused when a VirtualService is validated, skipped when edits are applied.
    public static let reservedNames: Set<String> = [
        "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "proxy-connection",
    ]

    public mutating func setHeader(_ name: String, _ value: String) {
        set.removeAll { $0.name.lowercased() == name.lowercased() }
        set.append((name, value))
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.remove == rhs.remove && lhs.set.map(\.name) == rhs.set.map(\.name) && lhs.set.map(\.value) == rhs.set.map(\.value)
            && lhs.add.map(\.name) == rhs.add.map(\.name) && lhs.add.map(\.value) == rhs.add.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(remove)
        for (name, value) in set + add { hasher.combine(name); hasher.combine(value) }
    }
}
