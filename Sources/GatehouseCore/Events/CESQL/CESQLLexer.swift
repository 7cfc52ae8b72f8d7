/// Splits a CESQL expression into tokens. Keywords are case-insensitive; identifiers are
/// lowercased (attribute names are lowercase, and Knative's parser reads `SOURCE` as `source`).
struct CESQLLexer {
    enum Kind: Hashable {
        /// An attribute name, a function name or a keyword, as written.
        case word(String)
        case integer(String)
        case string(String)
        case symbol(String)
        case end
    }

    struct Token: Hashable {
        var kind: Kind
        /// 1-based character position of its first character.
        var column: Int

        /// The keyword this word is, uppercased; nil for other tokens.
        var keyword: String? {
            guard case .word(let word) = kind else { return nil }
            let upper = word.uppercased()
            return CESQLLexer.keywords.contains(upper) ? upper : nil
        }
    }

    static let keywords: Set<String> = ["AND", "OR", "XOR", "NOT", "LIKE", "EXISTS", "IN", "TRUE", "FALSE"]

    static func tokens(_ text: String) throws(CESQLParseError) -> [Token] {
        let scalars = Array(text.unicodeScalars)
        var tokens: [Token] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            let column = index + 1
            switch scalar {
            case " ", "\t", "\r", "\n":
                index += 1
            case "a"..."z", "A"..."Z", "0"..."9", "_":
                var end = index
                while end < scalars.count, isWordScalar(scalars[end]) { end += 1 }
                let word = String(String.UnicodeScalarView(scalars[index..<end]))
                let allDigits = word.unicodeScalars.allSatisfy { ("0"..."9").contains($0) }
                tokens.append(Token(kind: allDigits ? .integer(word) : .word(word), column: column))
                index = end
            case "'", "\"":
                let (value, end) = try string(scalars, from: index)
                tokens.append(Token(kind: .string(value), column: column))
                index = end
            case "!", "<", ">":
                let next = index + 1 < scalars.count ? scalars[index + 1] : " "
                let pair = String(scalar) + String(next)
                if ["!=", "<>", "<=", ">="].contains(pair) {
                    tokens.append(Token(kind: .symbol(pair), column: column))
                    index += 2
                } else if scalar == "!" {
                    throw CESQLParseError(column: column, message: "unexpected \"!\"; write != or NOT")
                } else {
                    tokens.append(Token(kind: .symbol(String(scalar)), column: column))
                    index += 1
                }
            case "(", ")", ",", "*", "/", "%", "+", "-", "=":
                tokens.append(Token(kind: .symbol(String(scalar)), column: column))
                index += 1
            default:
                throw CESQLParseError(column: column, message: "unexpected character \"\(scalar)\"")
            }
        }
        tokens.append(Token(kind: .end, column: scalars.count + 1))
        return tokens
    }

    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
    }

    /// A quoted literal. As the CloudEvents Go SDK: a backslash pairs with the next character (so
    /// `\'` does not end a `'…'` literal), and only the escaped delimiter loses its backslash; other
    /// pairs (`\_`, `\%` for LIKE) are kept as written.
    private static func string(_ scalars: [Unicode.Scalar], from start: Int) throws(CESQLParseError) -> (String, Int) {
        let quote = scalars[start]
        var value = String.UnicodeScalarView()
        var index = start + 1
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\\", index + 1 < scalars.count {
                let next = scalars[index + 1]
                if next != quote { value.append(scalar) }
                value.append(next)
                index += 2
            } else if scalar == quote {
                // A doubled quote stays inside the literal, as written (the grammar's `''`).
                if index + 1 < scalars.count, scalars[index + 1] == quote {
                    value.append(scalar)
                    value.append(scalar)
                    index += 2
                    continue
                }
                return (String(value), index + 1)
            } else {
                value.append(scalar)
                index += 1
            }
        }
        throw CESQLParseError(column: start + 1, message: "string literal is not closed; end it with \(quote)")
    }
}
