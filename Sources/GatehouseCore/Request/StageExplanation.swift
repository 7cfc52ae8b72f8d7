import Foundation

/// What one stage did with a request `explain` describes: its verdict, why it let the request on,
/// and what it looked at (the routes tried, the policies and their rules, a bucket's tokens).
public struct StageExplanation: Sendable {
    public var verdict: StageVerdict
    /// Why the stage let the request go on; a refusal's reason is its error's detail.
    public var note: String?
    /// Stage-specific facts, printed as they are in `explain -o json` (documented per stage).
    public var details: [String: DetailValue]

    public init(_ verdict: StageVerdict, note: String? = nil, details: [String: DetailValue] = [:]) {
        self.verdict = verdict
        self.note = note
        self.details = details
    }
}

/// A JSON value in an explanation's stage details.
public indirect enum DetailValue: Sendable, Hashable, Codable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([DetailValue])
    case object([String: DetailValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([DetailValue].self) {
            self = .list(value)
        } else {
            self = .object(try container.decode([String: DetailValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .list(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Encodes any `Encodable` detail (a route trace, a policy evaluation) as a value.
    public static func encoding(_ value: some Encodable) -> DetailValue {
        (try? DetailValueEncoder.encode(value)) ?? .string(String(describing: value))
    }
}

/// Encodes through JSON and back: details are small and only `explain` builds them.
private enum DetailValueEncoder {
    static func encode(_ value: some Encodable) throws -> DetailValue {
        try JSONDecoder().decode(DetailValue.self, from: JSONEncoder().encode(value))
    }
}

/// A stage's note and details written on the record, for a stage that knows them only after it
/// resumed from a suspension; the explain driver reads and clears it after each stage.
public struct StageNotes: RecordExtensionKey, Sendable {
    public typealias Value = StageNotes
    public var note: String?
    public var details: [String: DetailValue]

    public init(note: String?, details: [String: DetailValue]) {
        self.note = note
        self.details = details
    }
}
