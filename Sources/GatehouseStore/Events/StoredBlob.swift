import Foundation

/// The compact, versioned byte layout events, calls and results are stored in (`event.body`,
/// `delivery.override`, `dead_letter.body`, `async_call.request`, `async_call.result`): unsigned
/// LEB128 lengths and counts, UTF-8 strings, a presence byte before optional values. Exact:
/// what is written reads back equal, binary data and empty-versus-absent included.
struct StoredBlobWriter {
    private(set) var bytes: [UInt8] = []

    init(version: UInt8) { bytes.append(version) }

    mutating func count(_ value: Int) { unsigned(UInt64(max(0, value))) }

    mutating func unsigned(_ value: UInt64) {
        var value = value
        repeat {
            let low = UInt8(value & 0x7F)
            value >>= 7
            bytes.append(value == 0 ? low : low | 0x80)
        } while value != 0
    }

    mutating func string(_ value: String) { self.bytes(Array(value.utf8)) }

    mutating func bytes(_ value: [UInt8]) {
        count(value.count)
        bytes.append(contentsOf: value)
    }

    mutating func optional(_ value: String?) {
        guard let value else { return bytes.append(0) }
        bytes.append(1)
        string(value)
    }

    mutating func optional(_ value: [UInt8]?) {
        guard let value else { return bytes.append(0) }
        bytes.append(1)
        self.bytes(value)
    }

    var data: Data { Data(bytes) }
}

/// Reads what `StoredBlobWriter` wrote. Never traps: a short, overlong or otherwise damaged blob
/// (a hostile state directory) throws `StoredBlobReader.Unreadable`, and no length read from the
/// blob is trusted past the bytes actually there.
struct StoredBlobReader {
    struct Unreadable: Error, CustomStringConvertible {
        var description: String
    }

    private let buffer: [UInt8]
    private var index = 0

    /// Checks the version byte.
    init(_ data: Data, version: UInt8, what: String) throws(Unreadable) {
        buffer = Array(data)
        guard let first = buffer.first else { throw Unreadable(description: "empty \(what)") }
        guard first == version else { throw Unreadable(description: "\(what) in unknown layout \(first)") }
        index = 1
    }

    mutating func unsigned() throws(Unreadable) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < buffer.count else { throw Unreadable(description: "truncated number") }
            guard shift < 64 else { throw Unreadable(description: "number too long") }
            let byte = buffer[index]
            index += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    mutating func count() throws(Unreadable) -> Int {
        let value = try unsigned()
        guard value <= UInt64(buffer.count - index) else { throw Unreadable(description: "length \(value) past the end") }
        return Int(value)
    }

    mutating func bytes() throws(Unreadable) -> [UInt8] {
        let length = try count()
        defer { index += length }
        return Array(buffer[index..<index + length])
    }

    mutating func string() throws(Unreadable) -> String {
        guard let text = String(validating: try bytes(), as: UTF8.self) else { throw Unreadable(description: "text that is not UTF-8") }
        return text
    }

    private mutating func present() throws(Unreadable) -> Bool {
        guard index < buffer.count else { throw Unreadable(description: "truncated") }
        defer { index += 1 }
        switch buffer[index] {
        case 0: return false
        case 1: return true
        case let other: throw Unreadable(description: "presence byte \(other)")
        }
    }

    mutating func optionalString() throws(Unreadable) -> String? {
        try present() ? try string() : nil
    }

    mutating func optionalBytes() throws(Unreadable) -> [UInt8]? {
        try present() ? try bytes() : nil
    }

    /// Refuses trailing bytes: a blob is read whole or not at all.
    func end() throws(Unreadable) {
        guard index == buffer.count else { throw Unreadable(description: "\(buffer.count - index) unexpected trailing bytes") }
    }
}
