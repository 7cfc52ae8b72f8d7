/// Typed values a stage or sink keeps on a request's record without adding a field to Core: a
/// trace's span context, a login session, an event's delivery attempt. Each kind of value has a
/// key type, so two modules cannot collide on a name, and reads are typed.
///
///     enum SessionKey: RecordExtensionKey { typealias Value = Session }
///     record.extensions[SessionKey.self] = session
public protocol RecordExtensionKey {
    associatedtype Value: Sendable
}

public struct RecordExtensions: Sendable {
    // Few values per request: a small array beats a dictionary's allocation and hashing.
    private var entries: [(key: ObjectIdentifier, value: any Sendable)] = []

    public init() {}

    public subscript<Key: RecordExtensionKey>(_ key: Key.Type) -> Key.Value? {
        get {
            let id = ObjectIdentifier(key)
            return entries.first { $0.key == id }?.value as? Key.Value
        }
        set {
            let id = ObjectIdentifier(key)
            entries.removeAll { $0.key == id }
            if let newValue { entries.append((id, newValue)) }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }
}
