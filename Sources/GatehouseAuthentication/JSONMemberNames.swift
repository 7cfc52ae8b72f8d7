import Foundation

/// Finds repeated member names in a JSON text, at every depth, before a decoder silently keeps
/// one of them. RFC 7519 §4 lets a JWT parser either reject such a claims set or keep the
/// lexically last member; Foundation's decoders keep whichever they like, so two parsers (ours and
/// the function's) could read different `sub`s from one signed token. Gatehouse rejects instead.
///
/// Only structure is followed here (strings, objects, arrays, and the extent of scalars); the
/// full grammar is left to the JSON decoder that runs next. Nesting deeper than `maximumDepth`
/// counts as invalid, so the scan's cost is bounded by the text's length.
struct JSONMemberNames {
    enum Finding: Error, Equatable {
        case duplicate
        case invalid
    }

    static let maximumDepth = 32

    /// nil when every object's member names are distinct (compared as Swift strings, so names that
    /// are canonically equivalent, or spelled with different escapes, count as the same name).
    static func check(_ text: [UInt8]) -> Finding? {
        var scanner = JSONMemberNames(bytes: text)
        do {
            scanner.skipWhitespace()
            try scanner.value(depth: 0)
            scanner.skipWhitespace()
            return scanner.index == text.count ? nil : .invalid
        } catch {
            return error
        }
    }

    private let bytes: [UInt8]
    private var index = 0

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws(Finding) {
        guard current == byte else { throw .invalid }
        index += 1
    }

    private mutating func value(depth: Int) throws(Finding) {
        guard depth < Self.maximumDepth, let byte = current else { throw .invalid }
        switch byte {
        case UInt8(ascii: "{"): try object(depth: depth + 1)
        case UInt8(ascii: "["): try array(depth: depth + 1)
        case UInt8(ascii: "\""): _ = try string()
        default:
            // A number or a literal: its extent only; the decoder judges its spelling.
            let start = index
            while let byte = current, !Self.delimiters.contains(byte) { index += 1 }
            guard index > start else { throw .invalid }
        }
    }

    private static let delimiters: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ":")]

    private mutating func object(depth: Int) throws(Finding) {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return
        }
        var names: Set<String> = []
        while true {
            skipWhitespace()
            guard names.insert(try name()).inserted else { throw .duplicate }
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try value(depth: depth)
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                index += 1
            } else {
                try expect(UInt8(ascii: "}"))
                return
            }
        }
    }

    private mutating func array(depth: Int) throws(Finding) {
        try expect(UInt8(ascii: "["))
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try value(depth: depth)
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                index += 1
            } else {
                try expect(UInt8(ascii: "]"))
                return
            }
        }
    }

    /// The raw text of a string, quotes included; `escaped` when it holds a backslash.
    private mutating func string() throws(Finding) -> (text: ArraySlice<UInt8>, escaped: Bool) {
        let start = index
        try expect(UInt8(ascii: "\""))
        var escaped = false
        while let byte = current {
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return (bytes[start..<index], escaped)
            case UInt8(ascii: "\\"):
                guard current != nil else { throw .invalid }
                escaped = true
                index += 1
            default: continue
            }
        }
        throw .invalid
    }

    /// A member name as a decoder would see it: escapes (`\u0073ub`) resolved.
    private mutating func name() throws(Finding) -> String {
        let (text, escaped) = try string()
        guard escaped else { return String(decoding: text.dropFirst().dropLast(), as: UTF8.self) }
        guard let decoded = try? JSONSerialization.jsonObject(with: Data(text), options: .fragmentsAllowed) as? String else {
            throw .invalid
        }
        return decoded
    }
}
