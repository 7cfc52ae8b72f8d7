/// Finds where one JSON value ends, without building it: how a structured event's `data` member
/// is kept as the bytes the publisher wrote (numbers, key order and spacing unchanged), as the
/// CloudEvents SDKs keep it raw. The input has already parsed as JSON (Foundation), so this only
/// skips; it never has to judge validity.
enum JSONValueSpan {
    /// The top-level members' raw value bytes of a JSON object, by name (the last one wins, as
    /// for Foundation's parser); nil when `bytes` is not an object. Depth is bounded by the parse
    /// that already succeeded.
    static func members(of bytes: [UInt8]) -> [String: ArraySlice<UInt8>]? {
        var index = skipSpace(bytes, 0)
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        var members: [String: ArraySlice<UInt8>] = [:]
        while true {
            index = skipSpace(bytes, index)
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "}") { return members }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            guard bytes[index] == UInt8(ascii: "\""), let keyEnd = endOfString(bytes, index) else { return nil }
            let key = decodedKey(bytes[(index + 1)..<(keyEnd - 1)])
            index = skipSpace(bytes, keyEnd)
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            index = skipSpace(bytes, index + 1)
            guard let valueEnd = endOfValue(bytes, index) else { return nil }
            members[key] = bytes[index..<valueEnd]
            index = valueEnd
        }
    }

    /// The index just past the value starting at `start`.
    static func endOfValue(_ bytes: [UInt8], _ start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return endOfString(bytes, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var index = start
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard let end = endOfString(bytes, index) else { return nil }
                    index = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return index + 1 }
                default:
                    break
                }
                index += 1
            }
            return nil
        default:
            // A number, true, false or null: up to the next delimiter.
            var index = start
            while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
                index += 1
            }
            return index
        }
    }

    private static func endOfString(_ bytes: [UInt8], _ start: Int) -> Int? {
        var index = start + 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index + 1
            default: index += 1
            }
        }
        return nil
    }

    private static func skipSpace(_ bytes: [UInt8], _ start: Int) -> Int {
        var index = start
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        return index
    }

    /// Member names of interest are plain ASCII; an escaped name is compared as written.
    private static func decodedKey(_ raw: ArraySlice<UInt8>) -> String { String(decoding: raw, as: UTF8.self) }
}
