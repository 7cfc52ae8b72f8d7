import Crypto
import Foundation

/// An audit event in the chain: its canonical bytes and the hash that links it to the record
/// before it, `hash = SHA-256(previousHash || body)` (the 32 raw bytes of the previous hash, then
/// the body's UTF-8). The first record follows 32 zero bytes, or after retention the anchor's hash.
public struct AuditRecord: Sendable, Hashable {
    public var seq: Int64
    public var event: AuditEvent
    /// The canonical JSON the hash covers, exactly as stored.
    public var body: String
    /// Lower-case hex.
    public var previousHash: String
    public var hash: String

    public init(seq: Int64, event: AuditEvent, body: String, previousHash: String, hash: String) {
        self.seq = seq
        self.event = event
        self.body = body
        self.previousHash = previousHash
        self.hash = hash
    }

    /// `event` as record `seq`, chained after `previousHash`.
    public static func chained(_ event: AuditEvent, seq: Int64, after previousHash: String) -> AuditRecord {
        var event = event
        event.seq = seq
        let body = AuditCoding.canonical(event)
        return AuditRecord(seq: seq, event: event, body: body, previousHash: previousHash, hash: link(previousHash, body))
    }

    /// What precedes the first record: 32 zero bytes.
    public static let genesis = String(repeating: "0", count: 64)

    /// `SHA-256(previousHash || body)`, hex; nil-safe: a malformed previous hash counts as its text.
    public static func link(_ previousHash: String, _ body: String) -> String {
        var hasher = SHA256()
        hasher.update(data: AuditCoding.bytes(hex: previousHash) ?? Array(previousHash.utf8))
        hasher.update(data: Array(body.utf8))
        return AuditCoding.hex(hasher.finalize())
    }
}

extension AuditRecord {
    /// A stored record; one whose content no longer decodes is shown as `unreadable` (verify names it).
    init(stored: AuditChainWalk.Row) {
        let event = (try? AuditCoding.decoder.decode(AuditEvent.self, from: Data(stored.body.utf8))) ?? {
            var event = AuditEvent(kind: AuditKind("unreadable"), at: AuditCoding.date(stored.at) ?? Date(timeIntervalSince1970: 0))
            event.seq = stored.seq
            event.detail = "this record's content does not decode; run gatehouse audit verify"
            return event
        }()
        self.init(seq: stored.seq, event: event, body: stored.body, previousHash: stored.previousHash, hash: stored.hash)
    }
}

/// The one way audit JSON is written and read.
public enum AuditCoding {
    /// Sorted keys, no whitespace, slashes unescaped, dates as ISO 8601 UTC with milliseconds; nil
    /// fields left out. A record's body is produced once, stored, and never re-encoded: the chain
    /// covers the stored bytes, so a reader needs no encoder to check it.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(timestamp(date))
        }
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = date(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 time: \(text)"))
            }
            return date
        }
        return decoder
    }()

    public static func canonical(_ value: some Encodable) -> String {
        // Every field is a string, number, date, list or object: encoding cannot fail.
        String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// `2026-12-06T10:00:00.123Z`: fixed width, so text order is time order (the `at` column).
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func date(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    public static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
