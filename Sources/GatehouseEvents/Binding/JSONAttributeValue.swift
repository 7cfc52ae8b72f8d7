/// One member of a structured event, as JSON typed it: CloudEvents attributes are strings,
/// integers or booleans; `data` may be anything. Decoded with `JSONDecoder`, which (unlike
/// `JSONSerialization`) never reads `1` as `true`.
enum JSONAttributeValue: Decodable, Equatable {
    case string(String)
    case integer(Int64)
    case boolean(Bool)
    case null
    /// A fraction, an object or an array: valid only as `data`.
    case other

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null; return }
        if let value = try? container.decode(Bool.self) { self = .boolean(value); return }
        if let value = try? container.decode(Int64.self) { self = .integer(value); return }
        if let value = try? container.decode(String.self) { self = .string(value); return }
        if (try? container.decode(Double.self)) != nil { self = .other; return }
        if (try? container.decode([String: JSONAttributeValue].self)) != nil { self = .other; return }
        _ = try container.decode([JSONAttributeValue].self)
        self = .other
    }
}
