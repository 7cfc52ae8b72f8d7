/// Parses CESQL with the precedence of the CloudEvents grammar that Knative's parser is generated
/// from (`CESQLParser.g4`), tightest first:
///
/// 1. function calls, literals, attributes, `( … )`, `EXISTS attr`
/// 2. `NOT x`, `-x` (so `NOT a = b` is `(NOT a) = b`, as in that grammar)
/// 3. `x [NOT] LIKE 'p'`, `x [NOT] IN (…)`
/// 4. `*` `/` `%`, then 5. `+` `-`, then 6. comparisons — each left-associative
/// 7. `AND` `OR` `XOR`, one level, right-associative (`a AND b OR c` is `a AND (b OR c)`)
///
/// Input and nesting are bounded (`CESQLExpression.maxLength`, `maxDepth`) so that a hostile
/// expression costs little to refuse and can never exhaust the stack.
struct CESQLParser {
    private let tokens: [CESQLLexer.Token]
    private var index = 0
    /// How deep the parser has recursed (parentheses, prefixes, arguments).
    private var nesting = 0
    private let maxDepth: Int

    private typealias Parsed = (node: CESQLNode, depth: Int)

    static func parse(_ text: String, maxDepth: Int) throws(CESQLParseError) -> CESQLNode {
        var parser = CESQLParser(tokens: try CESQLLexer.tokens(text), maxDepth: maxDepth)
        guard parser.tokens.count > 1 else { throw CESQLParseError(column: 1, message: "the expression is empty") }
        let parsed = try parser.logic()
        guard case .end = parser.current.kind else {
            throw CESQLParseError(column: parser.current.column, message: "unexpected \(parser.describe(parser.current))")
        }
        return parsed.node
    }

    private init(tokens: [CESQLLexer.Token], maxDepth: Int) {
        self.tokens = tokens
        self.maxDepth = maxDepth
    }

    private var current: CESQLLexer.Token { tokens[index] }
    private var next: CESQLLexer.Token { tokens[min(index + 1, tokens.count - 1)] }

    private func isSymbol(_ symbol: String, _ token: CESQLLexer.Token? = nil) -> Bool {
        (token ?? current).kind == .symbol(symbol)
    }

    private mutating func advance() -> CESQLLexer.Token {
        defer { index = min(index + 1, tokens.count - 1) }
        return tokens[index]
    }

    private func combined(_ node: CESQLNode, _ depths: Int..., at column: Int) throws(CESQLParseError) -> Parsed {
        try combined(node, depths, at: column)
    }

    private mutating func enter(at column: Int) throws(CESQLParseError) {
        nesting += 1
        guard nesting <= maxDepth else {
            throw CESQLParseError(column: column, message: "the expression nests more than \(maxDepth) levels deep")
        }
    }

    // MARK: Levels, loosest first

    private mutating func logic() throws(CESQLParseError) -> Parsed {
        let left = try comparison()
        guard let keyword = current.keyword, let op = CESQLNode.BinaryOperator(rawValue: keyword), [.and, .or, .xor].contains(op) else {
            return left
        }
        let column = advance().column
        try enter(at: column)
        let right = try logic()
        nesting -= 1
        return try combined(.binary(op, left.node, right.node), left.depth, right.depth, at: column)
    }

    private mutating func comparison() throws(CESQLParseError) -> Parsed {
        var left = try additive()
        while case .symbol(let symbol) = current.kind, let op = Self.comparisons[symbol] {
            let column = advance().column
            let right = try additive()
            left = try combined(.binary(op, left.node, right.node), left.depth, right.depth, at: column)
        }
        return left
    }

    private static let comparisons: [String: CESQLNode.BinaryOperator] = [
        "=": .equal, "!=": .notEqual, "<>": .notEqual, "<": .less, "<=": .lessOrEqual, ">": .greater, ">=": .greaterOrEqual,
    ]

    private mutating func additive() throws(CESQLParseError) -> Parsed {
        var left = try multiplicative()
        while isSymbol("+") || isSymbol("-") {
            let token = advance()
            let right = try multiplicative()
            let op: CESQLNode.BinaryOperator = token.kind == .symbol("+") ? .add : .subtract
            left = try combined(.binary(op, left.node, right.node), left.depth, right.depth, at: token.column)
        }
        return left
    }

    private mutating func multiplicative() throws(CESQLParseError) -> Parsed {
        var left = try postfix()
        while isSymbol("*") || isSymbol("/") || isSymbol("%") {
            let token = advance()
            let right = try postfix()
            let op: CESQLNode.BinaryOperator = token.kind == .symbol("*") ? .multiply : token.kind == .symbol("/") ? .divide : .remainder
            left = try combined(.binary(op, left.node, right.node), left.depth, right.depth, at: token.column)
        }
        return left
    }

    /// `LIKE` and `IN`, possibly after `NOT`.
    private mutating func postfix() throws(CESQLParseError) -> Parsed {
        var operand = try prefix()
        while true {
            var lookahead = current
            let negated = lookahead.keyword == "NOT"
            if negated { lookahead = next }
            switch lookahead.keyword {
            case "LIKE":
                if negated { _ = advance() }
                let column = advance().column
                guard case .string(let pattern) = current.kind else {
                    throw CESQLParseError(column: current.column, message: "LIKE needs a quoted pattern, e.g. LIKE 'order.%'")
                }
                _ = advance()
                operand = try combined(.like(operand.node, pattern: pattern, negated: negated), operand.depth, at: column)
            case "IN":
                if negated { _ = advance() }
                let column = advance().column
                let set = try arguments(after: "IN", allowingEmpty: false)
                operand = try combined(
                    .isIn(operand.node, set: set.map(\.node), negated: negated), [operand.depth] + set.map(\.depth), at: column)
            default:
                return operand
            }
        }
    }

    private func combined(_ node: CESQLNode, _ depths: [Int], at column: Int) throws(CESQLParseError) -> Parsed {
        let depth = (depths.max() ?? 0) + 1
        guard depth <= maxDepth else {
            throw CESQLParseError(column: column, message: "the expression nests more than \(maxDepth) levels deep")
        }
        return (node, depth)
    }

    private mutating func prefix() throws(CESQLParseError) -> Parsed {
        let token = current
        if token.keyword == "NOT" {
            _ = advance()
            try enter(at: token.column)
            let operand = try prefix()
            nesting -= 1
            return try combined(.not(operand.node), operand.depth, at: token.column)
        }
        if isSymbol("-") || isSymbol("+") {
            _ = advance()
            // A sign before digits is part of the literal (so -2147483648 fits), as in the grammar.
            if case .integer(let digits) = current.kind {
                _ = advance()
                return (.literal(.integer(try integer((isSymbol("-", token) ? "-" : "") + digits, at: token.column))), 1)
            }
            guard isSymbol("-", token) else {
                throw CESQLParseError(column: token.column, message: "unexpected \"+\"; a plus sign only goes before a number")
            }
            try enter(at: token.column)
            let operand = try prefix()
            nesting -= 1
            return try combined(.negate(operand.node), operand.depth, at: token.column)
        }
        return try primary()
    }

    private mutating func primary() throws(CESQLParseError) -> Parsed {
        let token = advance()
        switch token.kind {
        case .integer(let digits):
            return (.literal(.integer(try integer(digits, at: token.column))), 1)
        case .string(let text):
            return (.literal(.string(text)), 1)
        case .symbol("("):
            try enter(at: token.column)
            let inner = try logic()
            nesting -= 1
            guard isSymbol(")") else {
                throw CESQLParseError(column: current.column, message: "expected \")\" to close the \"(\" at column \(token.column)")
            }
            _ = advance()
            return inner
        case .word(let word):
            switch token.keyword {
            case "TRUE": return (.literal(.boolean(true)), 1)
            case "FALSE": return (.literal(.boolean(false)), 1)
            case "EXISTS":
                let name = advance()
                guard case .word(let attribute) = name.kind, name.keyword == nil, !attribute.contains("_") else {
                    throw CESQLParseError(column: name.column, message: "EXISTS needs an attribute name, e.g. EXISTS subject")
                }
                return (.exists(attribute.lowercased()), 1)
            case nil:
                if isSymbol("(") { return try call(word, at: token.column) }
                guard !word.contains("_") else {
                    throw CESQLParseError(
                        column: token.column, message: "\"\(word)\" is not an attribute name (lowercase letters and digits)")
                }
                return (.attribute(word.lowercased()), 1)
            default:
                throw CESQLParseError(column: token.column, message: "unexpected \(word.uppercased())")
            }
        default:
            throw CESQLParseError(column: token.column, message: "unexpected \(describe(token))")
        }
    }

    private mutating func call(_ name: String, at column: Int) throws(CESQLParseError) -> Parsed {
        guard let function = CESQLFunction(rawValue: name.uppercased()) else {
            let known = CESQLFunction.allCases.map(\.rawValue).joined(separator: ", ")
            throw CESQLParseError(column: column, message: "unknown function \(name.uppercased()); known: \(known)")
        }
        try enter(at: column)
        let arguments = try arguments(after: function.rawValue, allowingEmpty: true)
        nesting -= 1
        guard function.arity.contains(arguments.count) else {
            throw CESQLParseError(column: column, message: "\(function.rawValue) takes \(function.arityDescription), got \(arguments.count)")
        }
        return try combined(.call(function, arguments.map(\.node)), arguments.map(\.depth), at: column)
    }

    /// `( expr, expr, … )`, for function arguments and IN's set.
    private mutating func arguments(after what: String, allowingEmpty: Bool) throws(CESQLParseError) -> [Parsed] {
        guard isSymbol("(") else {
            throw CESQLParseError(column: current.column, message: "expected \"(\" after \(what)")
        }
        let open = advance()
        var items: [Parsed] = []
        if isSymbol(")") {
            guard allowingEmpty else { throw CESQLParseError(column: current.column, message: "\(what) needs at least one value") }
            _ = advance()
            return items
        }
        while true {
            try enter(at: current.column)
            items.append(try logic())
            nesting -= 1
            if isSymbol(",") {
                _ = advance()
                continue
            }
            guard isSymbol(")") else {
                throw CESQLParseError(column: current.column, message: "expected \",\" or \")\" to close the \"(\" at column \(open.column)")
            }
            _ = advance()
            return items
        }
    }

    private func integer(_ text: String, at column: Int) throws(CESQLParseError) -> Int32 {
        guard let value = Int32(text) else {
            throw CESQLParseError(column: column, message: "\(text) is not a 32-bit integer (-2147483648 to 2147483647)")
        }
        return value
    }

    private func describe(_ token: CESQLLexer.Token) -> String {
        switch token.kind {
        case .word(let word): "\"\(word)\""
        case .integer(let digits): digits
        case .string(let text): "'\(text.prefix(20))'"
        case .symbol(let symbol): "\"\(symbol)\""
        case .end: "end of expression"
        }
    }
}
