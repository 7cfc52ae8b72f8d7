/// Istio's default path normalization (`BASE`, RFC 3986 as Envoy's `normalize_path` does it)
/// before policies match: percent-encoded unreserved characters decoded, other escapes upper-cased,
/// backslashes turned into slashes, `.` and `..` segments resolved. Slashes are not merged (that is
/// Istio's opt-in `MERGE_SLASHES`). The function receives the normalized path, so what was checked
/// is what it serves. Idempotent: normalizing a normalized path changes nothing.
public enum PathNormalization {
    /// `path` without its query string, normalized. Most paths need nothing: they are returned as
    /// they are after one scan, without allocating.
    public static func normalize(_ path: String) -> String {
        guard needsWork(path) else { return path }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(path.utf8.count)
        var input = Array(path.utf8)[...]
        while let byte = input.first {
            input = input.dropFirst()
            if byte == UInt8(ascii: "%"), input.count >= 2, let high = hex(input[input.startIndex]),
               let low = hex(input[input.startIndex + 1]) {
                let decoded = high << 4 | low
                if isUnreserved(decoded) {
                    bytes.append(decoded)
                } else {
                    bytes += [UInt8(ascii: "%"), upperHex(high), upperHex(low)]
                }
                input = input.dropFirst(2)
            } else if byte == UInt8(ascii: "%") {
                // A `%` that starts no escape is data (RFC 3986 §2.4), written `%25`: left bare, the
                // decoding after it could complete a new escape (`%%32%65` → `%2e`, `%%30%30` →
                // `%00`) that a second normalization, or the function, decodes again.
                bytes += [UInt8(ascii: "%"), UInt8(ascii: "2"), UInt8(ascii: "5")]
            } else {
                bytes.append(byte == UInt8(ascii: "\\") ? UInt8(ascii: "/") : byte)
            }
        }
        return removeDotSegments(String(decoding: bytes, as: UTF8.self))
    }

    /// Whether `path` has an escape, a backslash, or a segment starting with a dot: whether
    /// `normalize` could change it.
    public static func needsWork(_ path: some StringProtocol) -> Bool {
        var previous = UInt8(ascii: "/")  // a leading "." is a dot segment too
        for byte in path.utf8 {
            if byte == UInt8(ascii: "%") || byte == UInt8(ascii: "\\") { return true }
            if byte == UInt8(ascii: "."), previous == UInt8(ascii: "/") { return true }
            previous = byte
        }
        return false
    }

    /// Splits a request target into its path and its query (with the `?`, or empty).
    public static func split(_ target: String) -> (path: String, query: String) {
        guard let mark = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<mark]), String(target[mark...]))
    }

    /// RFC 3986 section 5.2.4.
    static func removeDotSegments(_ path: String) -> String {
        guard path.contains(".") else { return path }
        let absolute = path.hasPrefix("/")
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst(absolute ? 1 : 0)
        for (index, segment) in segments.enumerated() {
            let last = index == segments.count - 1
            switch segment {
            case ".":
                if last { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if last { output.append("") }
            default:
                output.append(segment)
            }
        }
        return (absolute ? "/" : "") + output.joined(separator: "/")
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func upperHex(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
