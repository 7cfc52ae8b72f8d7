import GatehouseStore

/// A record as `gatehouse audit -o json`, `audit export` and `GET /api/v1/audit` show it: the
/// event's fields (the record's JSON), plus `hash` and `previousHash` to check it against.
public struct AuditRecordView: Sendable, Codable, Hashable {
    public var event: AuditEvent
    public var hash: String
    public var previousHash: String

    public init(_ record: AuditRecord) {
        event = record.event
        hash = record.hash
        previousHash = record.previousHash
    }

    private enum Keys: String, CodingKey { case hash, previousHash }

    public init(from decoder: any Decoder) throws {
        event = try AuditEvent(from: decoder)
        let container = try decoder.container(keyedBy: Keys.self)
        hash = try container.decode(String.self, forKey: .hash)
        previousHash = try container.decode(String.self, forKey: .previousHash)
    }

    public func encode(to encoder: any Encoder) throws {
        try event.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(hash, forKey: .hash)
        try container.encode(previousHash, forKey: .previousHash)
    }
}
