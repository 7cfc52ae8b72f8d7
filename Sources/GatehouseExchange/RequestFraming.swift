import NIOHTTP1

/// The body a request declared: what the forwarder frames, whatever header spelled it. Decided
/// once by the listener's head check; an in-process request frames its body by length.
public enum RequestFraming: Equatable, Sendable {
    case none
    case length(String)
    case chunked

    /// How a head that passed the listener's check frames its body.
    public static func of(_ head: HTTPRequestHead) -> RequestFraming {
        var length: String?
        for (name, value) in head.headers {
            switch name.utf8.count {
            case 17 where Self.named(name, "transfer-encoding"): return .chunked
            case 14 where Self.named(name, "content-length"): length = length ?? value
            default: break
            }
        }
        return length.map { .length($0) } ?? .none
    }

    /// `name` equals the lower-case `lower`, ignoring ASCII case, without allocating.
    private static func named(_ name: String, _ lower: String) -> Bool {
        guard name.utf8.count == lower.utf8.count else { return false }
        for (byte, expected) in zip(name.utf8, lower.utf8) {
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            if folded != expected { return false }
        }
        return true
    }
}
