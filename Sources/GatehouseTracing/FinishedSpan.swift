import GatehouseCore

/// One span as Gatehouse reports it: to the local trace store's readers (`gatehouse trace`, the
/// admin API, as JSON) and, encoded as OTLP, to a collector.
public struct FinishedSpan: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case server, client, `internal`
    }

    public var traceId: String
    public var spanId: String
    public var parentSpanId: String?
    public var name: String
    public var kind: Kind
    /// Nanoseconds since the Unix epoch.
    public var startNanos: Int64
    public var endNanos: Int64
    public var attributes: [Attribute]
    /// The span failed (OpenTelemetry status ERROR), with why when known.
    public var failed: Bool
    public var statusMessage: String?
    /// The function's `NAME.NAMESPACE` (Istio's service name for a workload's spans), or `gatehouse`.
    public var service: String
    /// The W3C `tracestate` the caller sent (server spans only).
    public var traceState: String?

    public struct Attribute: Sendable, Codable, Equatable {
        public var key: String
        public var value: Value

        public init(_ key: String, _ value: Value) {
            self.key = key
            self.value = value
        }
    }

    public enum Value: Sendable, Equatable, Codable {
        case string(String), int(Int64), bool(Bool)

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let bool = try? container.decode(Bool.self) {
                self = .bool(bool)
            } else if let int = try? container.decode(Int64.self) {
                self = .int(int)
            } else {
                self = .string(try container.decode(String.self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let text): try container.encode(text)
            case .int(let number): try container.encode(number)
            case .bool(let flag): try container.encode(flag)
            }
        }

        public var text: String {
            switch self {
            case .string(let text): text
            case .int(let number): String(number)
            case .bool(let flag): String(flag)
            }
        }
    }

    public var durationNanos: Int64 { endNanos - startNanos }

    public func attribute(_ key: String) -> Value? { attributes.first { $0.key == key }?.value }
}
