/// A parsed CESQL expression: what `CESQLParser` builds and `CESQLExpression` evaluates.
indirect enum CESQLNode: Sendable, Hashable {
    enum BinaryOperator: String, Sendable, Hashable {
        case and = "AND", or = "OR", xor = "XOR"
        case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
    }

    case literal(CESQLValue)
    /// A context attribute or extension, by its lowercase name.
    case attribute(String)
    case exists(String)
    case not(CESQLNode)
    case negate(CESQLNode)
    /// `x [NOT] LIKE 'pattern'`; the pattern as written (escapes kept).
    case like(CESQLNode, pattern: String, negated: Bool)
    case isIn(CESQLNode, set: [CESQLNode], negated: Bool)
    case binary(BinaryOperator, CESQLNode, CESQLNode)
    case call(CESQLFunction, [CESQLNode])

    /// The type it yields, when known before evaluation (attributes are strings: Gatehouse keeps
    /// every attribute as the text it travels as).
    var resultKind: CESQLValue.Kind {
        switch self {
        case .literal(let value): value.kind
        case .attribute: .string
        case .exists, .not, .like, .isIn: .boolean
        case .negate: .integer
        case .binary(let op, _, _):
            switch op {
            case .add, .subtract, .multiply, .divide, .remainder: .integer
            default: .boolean
            }
        case .call(let function, _): function.resultKind
        }
    }
}
