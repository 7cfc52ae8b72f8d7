/// The subset of CEL (Envoy's attribute expressions) Gatehouse evaluates for Telemetry: an access
/// log `filter.expression`, compiled once when the config is loaded (see `TelemetryExpression+Parsing`).
///
/// Evaluation follows CEL's rules for errors: reading an attribute that is not there (an absent
/// header, no response yet) is an error, `false && error` is `false`, `true || error` is `true`,
/// anything else with an error is an error — and, as in Envoy's filter, an error does not match.
public indirect enum TelemetryExpression: Hashable, Sendable {
    case comparison(TelemetryOperand, ComparisonOperator, TelemetryOperand)
    case not(TelemetryExpression)
    case and(TelemetryExpression, TelemetryExpression)
    case or(TelemetryExpression, TelemetryExpression)
    case constant(Bool)

    public enum ComparisonOperator: String, Hashable, Sendable, CaseIterable {
        case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    }

    /// Whether the finished request matches; an evaluation error is "does not match".
    public func matches(_ record: RequestRecord) -> Bool {
        evaluate(record, headers: record.extensions[TelemetryHeaders.self]) == .matched
    }

    private enum Outcome { case matched, unmatched, error }

    private func evaluate(_ record: RequestRecord, headers: TelemetryHeaders?) -> Outcome {
        switch self {
        case .constant(let value):
            return value ? .matched : .unmatched
        case .not(let inner):
            switch inner.evaluate(record, headers: headers) {
            case .matched: return .unmatched
            case .unmatched: return .matched
            case .error: return .error
            }
        case .and(let left, let right):
            let first = left.evaluate(record, headers: headers)
            if first == .unmatched { return .unmatched }
            let second = right.evaluate(record, headers: headers)
            if second == .unmatched { return .unmatched }
            return first == .matched && second == .matched ? .matched : .error
        case .or(let left, let right):
            let first = left.evaluate(record, headers: headers)
            if first == .matched { return .matched }
            let second = right.evaluate(record, headers: headers)
            if second == .matched { return .matched }
            return first == .unmatched && second == .unmatched ? .unmatched : .error
        case .comparison(let left, let op, let right):
            guard let a = left.value(of: record, headers: headers), let b = right.value(of: record, headers: headers),
                  let result = op.compare(a, b) else { return .error }
            return result ? .matched : .unmatched
        }
    }
}

/// One side of a comparison, or an `UPSERT` tag value: an attribute of the request or a literal.
public enum TelemetryOperand: Hashable, Sendable {
    case attribute(TelemetryAttribute)
    case integer(Int)
    case string(String)
    case duration(Duration)

    public var type: TelemetryValue.Kind {
        switch self {
        case .attribute(let attribute): attribute.type
        case .integer: .integer
        case .string: .string
        case .duration: .duration
        }
    }

    /// The value for this request; nil when the attribute is not there (a CEL error).
    public func value(of record: RequestRecord, headers: TelemetryHeaders?) -> TelemetryValue? {
        switch self {
        case .attribute(let attribute): attribute.value(of: record, headers: headers)
        case .integer(let value): .integer(value)
        case .string(let value): .string(value)
        case .duration(let value): .duration(value)
        }
    }
}

/// A typed value an expression compares.
public enum TelemetryValue: Hashable, Sendable {
    case integer(Int)
    case string(String)
    case duration(Duration)

    public enum Kind: String, Sendable { case integer = "int", string, duration }

    /// As a metric label shows it.
    public var text: String {
        switch self {
        case .integer(let value): String(value)
        case .string(let value): value
        case .duration(let value): "\(value.components.seconds)s"
        }
    }
}

/// The request attributes (Envoy's names) an expression may read.
public enum TelemetryAttribute: Hashable, Sendable {
    case responseCode, responseDuration, requestSize, responseSize
    case requestMethod, requestHost, requestPath, requestURLPath, requestProtocol, requestID, requestUserAgent
    /// `request.headers['NAME']`, the name lower-cased.
    case requestHeader(String)

    /// Every attribute by its CEL name, but headers.
    public static let named: [String: TelemetryAttribute] = [
        "response.code": .responseCode, "response.duration": .responseDuration, "request.size": .requestSize,
        "response.size": .responseSize, "request.method": .requestMethod, "request.host": .requestHost,
        "request.path": .requestPath, "request.url_path": .requestURLPath, "request.protocol": .requestProtocol,
        "request.id": .requestID, "request.useragent": .requestUserAgent,
    ]

    public var type: TelemetryValue.Kind {
        switch self {
        case .responseCode, .requestSize, .responseSize: .integer
        case .responseDuration: .duration
        default: .string
        }
    }

    func value(of record: RequestRecord, headers: TelemetryHeaders?) -> TelemetryValue? {
        switch self {
        // No response was sent (the client left first): Envoy has no response.code either.
        case .responseCode: record.responseCode == 0 ? nil : .integer(record.responseCode)
        case .responseDuration: record.duration.map(TelemetryValue.duration)
        case .requestSize: .integer(record.bytesReceived)
        case .responseSize: .integer(record.bytesSent)
        case .requestMethod: .string(record.method)
        case .requestHost: .string(record.authority)
        // As the caller sent it (before a route's rewrite), a token in the query replaced.
        case .requestPath: .string(record.path.logged)
        case .requestURLPath: .string(String(record.path.logged.prefix { $0 != "?" }))
        case .requestProtocol: .string(record.httpProtocol)
        case .requestID: .string(record.requestId)
        case .requestUserAgent: record.userAgent.map(TelemetryValue.string)
        case .requestHeader(let name): headers?.value(named: name).map(TelemetryValue.string)
        }
    }
}

extension TelemetryExpression.ComparisonOperator {
    /// nil when the two values cannot be compared (a CEL error; the parser rules most of them out).
    func compare(_ a: TelemetryValue, _ b: TelemetryValue) -> Bool? {
        switch (a, b) {
        case (.integer(let x), .integer(let y)): apply(x, y)
        case (.string(let x), .string(let y)): apply(x, y)
        case (.duration(let x), .duration(let y)): apply(x, y)
        default: nil
        }
    }

    private func apply<T: Comparable>(_ x: T, _ y: T) -> Bool {
        switch self {
        case .equal: x == y
        case .notEqual: x != y
        case .less: x < y
        case .lessOrEqual: x <= y
        case .greater: x > y
        case .greaterOrEqual: x >= y
        }
    }
}
