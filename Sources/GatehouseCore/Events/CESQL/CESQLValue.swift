/// A CloudEvents SQL value: CESQL has three types, and casts between them that never trap.
public enum CESQLValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    /// A 32-bit signed integer, as CESQL defines it.
    case integer(Int32)
    case boolean(Bool)

    public enum Kind: String, Sendable, Hashable {
        case string = "String", integer = "Integer", boolean = "Boolean"
    }

    public var kind: Kind {
        switch self {
        case .string: .string
        case .integer: .integer
        case .boolean: .boolean
        }
    }

    public var description: String {
        switch self {
        case .string(let text): "'\(text)'"
        case .integer(let number): "\(number)"
        case .boolean(let flag): flag ? "TRUE" : "FALSE"
        }
    }

    /// CESQL's cast to `kind` (spec 3.7, as the CloudEvents Go SDK implements it, which Knative
    /// runs): integers print in base 10; `"true"`/`"false"` in any case are booleans; a boolean is
    /// 1 or 0; an integer is true unless 0. A string that is not a 32-bit integer or a boolean is
    /// a cast error.
    public func cast(to kind: Kind) throws(CESQLEvaluationError) -> CESQLValue {
        switch (self, kind) {
        case (.string, .string), (.integer, .integer), (.boolean, .boolean):
            return self
        case (.integer(let number), .string):
            return .string(String(number))
        case (.boolean(let flag), .string):
            return .string(flag ? "true" : "false")
        case (.string(let text), .integer):
            // Go's ParseInt: an optional sign, then decimal digits only.
            guard let number = Int32(text) else { throw .cast("cannot cast '\(text.prefix(32))' to Integer") }
            return .integer(number)
        case (.boolean(let flag), .integer):
            return .integer(flag ? 1 : 0)
        case (.string(let text), .boolean):
            switch text.lowercased() {
            case "true": return .boolean(true)
            case "false": return .boolean(false)
            default: throw .cast("cannot cast '\(text.prefix(32))' to Boolean")
            }
        case (.integer(let number), .boolean):
            return .boolean(number != 0)
        }
    }

    func string() throws(CESQLEvaluationError) -> String {
        guard case .string(let text) = try cast(to: .string) else { return "" }
        return text
    }

    func integer() throws(CESQLEvaluationError) -> Int32 {
        guard case .integer(let number) = try cast(to: .integer) else { return 0 }
        return number
    }

    func boolean() throws(CESQLEvaluationError) -> Bool {
        guard case .boolean(let flag) = try cast(to: .boolean) else { return false }
        return flag
    }
}
