/// CESQL's built-in functions (spec 3.5, plus the casting functions every engine ships). Each is
/// resolved by name and arity when the expression is parsed, so a misspelt or mis-called function
/// is a configuration error, not a filter that silently never matches.
enum CESQLFunction: String, Sendable, Hashable, CaseIterable {
    case length = "LENGTH", concat = "CONCAT", concatWS = "CONCAT_WS", lower = "LOWER", upper = "UPPER", trim = "TRIM"
    case left = "LEFT", right = "RIGHT", substring = "SUBSTRING", abs = "ABS"
    case int = "INT", bool = "BOOL", string = "STRING", isInt = "IS_INT", isBool = "IS_BOOL"

    var arity: ClosedRange<Int> {
        switch self {
        case .concat: 0...Int.max
        case .concatWS: 1...Int.max
        case .left, .right: 2...2
        case .substring: 2...3
        default: 1...1
        }
    }

    var arityDescription: String {
        switch self {
        case .concat: "any number of arguments"
        case .concatWS: "a delimiter and any number of strings"
        case .substring: "2 or 3 arguments"
        case .left, .right: "2 arguments"
        default: "1 argument"
        }
    }

    var resultKind: CESQLValue.Kind {
        switch self {
        case .length, .abs, .int: .integer
        case .bool, .isInt, .isBool: .boolean
        default: .string
        }
    }

    /// Runs the function on evaluated arguments; each argument is cast to the parameter's type first.
    func call(_ arguments: [CESQLValue]) throws(CESQLEvaluationError) -> CESQLValue {
        switch self {
        case .length:
            return .integer(Int32(clamping: try arguments[0].string().unicodeScalars.count))
        case .concat:
            var text = ""
            for argument in arguments { text += try argument.string() }
            return .string(text)
        case .concatWS:
            let delimiter = try arguments[0].string()
            var parts: [String] = []
            for argument in arguments.dropFirst() { parts.append(try argument.string()) }
            return .string(parts.joined(separator: delimiter))
        case .lower:
            return .string(try arguments[0].string().lowercased())
        case .upper:
            return .string(try arguments[0].string().uppercased())
        case .trim:
            let scalars = try arguments[0].string().unicodeScalars
            let kept = scalars.drop { $0.properties.isWhitespace }.reversed().drop { $0.properties.isWhitespace }.reversed()
            return .string(String(String.UnicodeScalarView(kept)))
        case .left, .right:
            let scalars = Array(try arguments[0].string().unicodeScalars)
            let count = Int(try arguments[1].integer())
            guard count >= 0 else { throw .function("\(rawValue) needs a length of 0 or more, got \(count)") }
            let kept = self == .left ? scalars.prefix(count) : scalars.suffix(count)
            return .string(String(String.UnicodeScalarView(kept)))
        case .substring:
            return .string(try substring(arguments))
        case .abs:
            let number = try arguments[0].integer()
            guard number != .min else { throw .math("ABS(\(number)) does not fit in 32 bits") }
            return .integer(Swift.abs(number))
        case .int:
            return try arguments[0].cast(to: .integer)
        case .bool:
            return try arguments[0].cast(to: .boolean)
        case .string:
            return try arguments[0].cast(to: .string)
        case .isInt:
            return .boolean((try? arguments[0].cast(to: .integer)) != nil)
        case .isBool:
            return .boolean((try? arguments[0].cast(to: .boolean)) != nil)
        }
    }

    /// `SUBSTRING(x, pos[, len])`: 1-based `pos`, negative counts from the end, 0 gives "".
    private func substring(_ arguments: [CESQLValue]) throws(CESQLEvaluationError) -> String {
        let scalars = Array(try arguments[0].string().unicodeScalars)
        let position = Int(try arguments[1].integer())
        let length = arguments.count == 3 ? Int(try arguments[2].integer()) : nil
        if let length, length < 0 { throw .function("SUBSTRING needs a length of 0 or more, got \(length)") }
        guard position != 0 else { return "" }
        guard position <= scalars.count, position >= -scalars.count else {
            throw .function("SUBSTRING position \(position) is outside a string of \(scalars.count) characters")
        }
        let start = position < 0 ? scalars.count + position : position - 1
        let end = length.map { min(scalars.count, start + $0) } ?? scalars.count
        return String(String.UnicodeScalarView(scalars[start..<end]))
    }
}
