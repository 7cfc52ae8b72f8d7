/// Why an expression is outside the subset Gatehouse evaluates; the message names the part.
public struct TelemetryExpressionError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension TelemetryExpression {
    /// What a filter may be, for error messages and the docs.
    public static let supportedForms = "comparisons (==, !=, <, <=, >, >=) of response.code, response.size, request.size "
        + "(with integers), response.duration (with duration('1s')), request.method, request.host, request.path, "
        + "request.url_path, request.protocol, request.id, request.useragent or request.headers['name'] (with 'strings'), "
        + "true, false, joined with &&, || and !, grouped with ( )"

    /// Longest expression accepted, in bytes: evaluation recurses once per operator, and a chain
    /// this long stays far from the stack's limit.
    public static let maxLength = 4_096
    /// Deepest nesting of `(` and `!` accepted (the parser recurses once per level).
    public static let maxDepth = 64

    /// Parses a filter expression once, at config time.
    public init(parsing text: String) throws(TelemetryExpressionError) {
        guard text.utf8.count <= Self.maxLength else {
            throw TelemetryExpressionError(message: "the expression is \(text.utf8.count) bytes long; at most \(Self.maxLength) are accepted")
        }
        var parser = try ExpressionParser(text)
        let expression = try parser.disjunction()
        try parser.expectEnd()
        self = expression
    }
}

extension TelemetryOperand {
    /// What an `UPSERT` tag value may be, for error messages and the docs.
    public static let supportedTagValues = "request.host, request.method, request.path, request.url_path, request.protocol, "
        + "request.useragent, request.headers['name'], response.code or a 'string literal'"

    /// Parses a metric tag override's `value`: one attribute or a string literal.
    public init(parsingTagValue text: String) throws(TelemetryExpressionError) {
        var parser = try ExpressionParser(text)
        let operand = try parser.operand()
        try parser.expectEnd()
        if case .attribute(.responseDuration) = operand {
            throw TelemetryExpressionError(message: "response.duration is not a tag value here")
        }
        if case .integer = operand { throw TelemetryExpressionError(message: "a number is not a tag value; quote it: '\(text)'") }
        if case .duration = operand { throw TelemetryExpressionError(message: "a duration is not a tag value") }
        self = operand
    }
}

/// Recursive descent over CEL's precedence: `||` < `&&` < `!` < comparison.
private struct ExpressionParser {
    private enum Token: Equatable {
        case identifier(String)   // dotted: `request.headers`
        case integer(Int)
        case string(String)
        case symbol(String)       // ( ) [ ] ! && || == != < <= > >= ,
    }

    private var tokens: [Token]
    private var position = 0
    private var depth = 0

    init(_ text: String) throws(TelemetryExpressionError) {
        tokens = try Self.tokenize(Array(text.unicodeScalars))
        if tokens.isEmpty { throw TelemetryExpressionError(message: "the expression is empty") }
    }

    private var next: Token? { position < tokens.count ? tokens[position] : nil }

    private mutating func take(_ symbol: String) -> Bool {
        guard next == .symbol(symbol) else { return false }
        position += 1
        return true
    }

    func expectEnd() throws(TelemetryExpressionError) {
        if let next { throw TelemetryExpressionError(message: "unexpected \(Self.describe(next))") }
    }

    mutating func disjunction() throws(TelemetryExpressionError) -> TelemetryExpression {
        var result = try conjunction()
        while take("||") { result = .or(result, try conjunction()) }
        return result
    }

    private mutating func conjunction() throws(TelemetryExpressionError) -> TelemetryExpression {
        var result = try unary()
        while take("&&") { result = .and(result, try unary()) }
        return result
    }

    private mutating func unary() throws(TelemetryExpressionError) -> TelemetryExpression {
        depth += 1
        defer { depth -= 1 }
        guard depth <= TelemetryExpression.maxDepth else {
            throw TelemetryExpressionError(message: "the expression nests `(` or `!` more than \(TelemetryExpression.maxDepth) deep")
        }
        if take("!") { return .not(try unary()) }
        if take("(") {
            let inner = try disjunction()
            guard take(")") else { throw TelemetryExpressionError(message: "missing `)`") }
            return inner
        }
        if case .identifier(let word) = next, word == "true" || word == "false" {
            position += 1
            return .constant(word == "true")
        }
        let left = try operand()
        guard case .symbol(let symbol) = next, let op = TelemetryExpression.ComparisonOperator(rawValue: symbol) else {
            throw TelemetryExpressionError(message: "expected a comparison (==, !=, <, <=, >, >=) after \(Self.describe(left))"
                + (next.map { ", got \(Self.describe($0))" } ?? ""))
        }
        position += 1
        let right = try operand()
        guard left.type == right.type else {
            throw TelemetryExpressionError(message: "cannot compare \(Self.describe(left)) (\(left.type.rawValue)) with "
                + "\(Self.describe(right)) (\(right.type.rawValue))"
                + (left.type == .duration || right.type == .duration ? "; write a duration as duration('1s')" : ""))
        }
        if case .attribute = left {} else if case .attribute = right {} else {
            throw TelemetryExpressionError(message: "a comparison needs a request attribute on one side")
        }
        return .comparison(left, op, right)
    }

    /// An attribute, `request.headers['name']`, `duration('…')`, an integer or a string.
    mutating func operand() throws(TelemetryExpressionError) -> TelemetryOperand {
        guard let token = next else { throw TelemetryExpressionError(message: "the expression ends too early") }
        position += 1
        switch token {
        case .integer(let value): return .integer(value)
        case .string(let value): return .string(value)
        case .symbol(let symbol): throw TelemetryExpressionError(message: "unexpected `\(symbol)`")
        case .identifier("duration"):
            guard take("("), case .string(let text)? = next else {
                throw TelemetryExpressionError(message: "write a duration as duration('1s')")
            }
            position += 1
            guard take(")"), let duration = Duration(parsing: text) else {
                throw TelemetryExpressionError(message: "write a duration as duration('1s') (Go syntax: 500ms, 2s, 1m)")
            }
            return .duration(duration)
        case .identifier("request.headers"):
            guard take("["), case .string(let name)? = next else {
                throw TelemetryExpressionError(message: "write a header as request.headers['name']")
            }
            position += 1
            guard take("]") else { throw TelemetryExpressionError(message: "missing `]` after request.headers['\(name)'") }
            return .attribute(.requestHeader(name.lowercased()))
        case .identifier(let name):
            guard let attribute = TelemetryAttribute.named[name] else {
                throw TelemetryExpressionError(message: "`\(name)` is not an attribute Gatehouse evaluates")
            }
            return .attribute(attribute)
        }
    }

    private static func describe(_ token: Token) -> String {
        switch token {
        case .identifier(let name): "`\(name)`"
        case .integer(let value): "`\(value)`"
        case .string(let value): "'\(value)'"
        case .symbol(let symbol): "`\(symbol)`"
        }
    }

    private static func describe(_ operand: TelemetryOperand) -> String {
        switch operand {
        case .attribute(.requestHeader(let name)): "request.headers['\(name)']"
        case .attribute(let attribute): TelemetryAttribute.named.first { $0.value == attribute }.map(\.key) ?? "an attribute"
        case .integer(let value): String(value)
        case .string(let value): "'\(value)'"
        case .duration: "a duration"
        }
    }

    private static func tokenize(_ scalars: [Unicode.Scalar]) throws(TelemetryExpressionError) -> [Token] {
        var tokens: [Token] = []
        var index = 0
        func isWordStart(_ c: Unicode.Scalar) -> Bool { c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        func isWord(_ c: Unicode.Scalar) -> Bool { isWordStart(c) || ("0"..."9").contains(c) || c == "." }
        while index < scalars.count {
            let c = scalars[index]
            if c == " " || c == "\t" || c == "\n" { index += 1; continue }
            if isWordStart(c) {
                var word = ""
                while index < scalars.count, isWord(scalars[index]) { word.unicodeScalars.append(scalars[index]); index += 1 }
                tokens.append(.identifier(word))
            } else if ("0"..."9").contains(c) {
                var digits = ""
                while index < scalars.count, ("0"..."9").contains(scalars[index]) { digits.unicodeScalars.append(scalars[index]); index += 1 }
                guard let value = Int(digits) else { throw TelemetryExpressionError(message: "\(digits) is too large") }
                tokens.append(.integer(value))
            } else if c == "'" || c == "\"" {
                var text = ""
                index += 1
                while index < scalars.count, scalars[index] != c {
                    if scalars[index] == "\\", index + 1 < scalars.count { index += 1 }
                    text.unicodeScalars.append(scalars[index])
                    index += 1
                }
                guard index < scalars.count else { throw TelemetryExpressionError(message: "a string is not closed") }
                index += 1
                tokens.append(.string(text))
            } else {
                let pair = index + 1 < scalars.count ? String(c) + String(scalars[index + 1]) : ""
                if ["&&", "||", "==", "!=", "<=", ">="].contains(pair) {
                    tokens.append(.symbol(pair))
                    index += 2
                } else if "()[]!<>".unicodeScalars.contains(c) {
                    tokens.append(.symbol(String(c)))
                    index += 1
                } else {
                    throw TelemetryExpressionError(message: "`\(c)` is not part of the supported subset")
                }
            }
        }
        return tokens
    }
}
