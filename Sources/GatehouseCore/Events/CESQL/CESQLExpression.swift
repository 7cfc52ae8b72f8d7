/// A CloudEvents SQL (CESQL 1.0) expression, parsed once and evaluated per event: the `cesql`
/// filter dialect of Knative's Trigger `filters` and EventPolicy `filters`.
///
/// Evaluation follows the spec's fail-fast mode, as the CloudEvents Go SDK that Knative runs does:
/// the first error (a missing attribute, a failed cast, a division by zero) ends it, and a filter
/// treats that as "does not match". Attributes are strings (Gatehouse keeps them as they travel in
/// `ce-` headers); `sequence = 10` casts `sequence` to an integer because the right side is one.
public struct CESQLExpression: Sendable, Hashable, CustomStringConvertible {
    /// Longest expression accepted, in UTF-8 bytes.
    public static let maxLength = 4096
    /// Deepest nesting of operators, calls and parentheses accepted.
    public static let maxDepth = 64

    /// As written.
    public let text: String
    let root: CESQLNode

    /// Parses `text`; errors carry the column. A filter expression must yield a boolean, so
    /// `type` alone (a string) is refused here rather than never matching at run time.
    public init(parsing text: String) throws(CESQLParseError) {
        guard text.utf8.count <= Self.maxLength else {
            throw CESQLParseError(column: 1, message: "the expression is longer than \(Self.maxLength) bytes")
        }
        let root = try CESQLParser.parse(text, maxDepth: Self.maxDepth)
        guard root.resultKind == .boolean else {
            throw CESQLParseError(
                column: 1, message: "the expression gives \(root.resultKind == .integer ? "an" : "a") \(root.resultKind.rawValue), not true or false")
        }
        self.text = text
        self.root = root
    }

    public var description: String { text }

    /// Whether `event` passes: the expression evaluates to `true` without an error.
    public func matches(_ event: CloudEvent) -> Bool {
        (try? evaluate(event)) == .boolean(true)
    }

    /// The expression's value on `event`, or the first error met.
    public func evaluate(_ event: CloudEvent) throws(CESQLEvaluationError) -> CESQLValue {
        try Self.evaluate(root, event)
    }

    private static func evaluate(_ node: CESQLNode, _ event: CloudEvent) throws(CESQLEvaluationError) -> CESQLValue {
        switch node {
        case .literal(let value):
            return value
        case .attribute(let name):
            guard let value = event.attribute(name) else { throw .missingAttribute(name) }
            return .string(value)
        case .exists(let name):
            return .boolean(event.attribute(name) != nil)
        case .not(let operand):
            return .boolean(!(try evaluate(operand, event).boolean()))
        case .negate(let operand):
            return .integer(0 &- (try evaluate(operand, event).integer()))
        case .like(let operand, let pattern, let negated):
            let text = try evaluate(operand, event).string()
            return .boolean(CESQLLikePattern.matches(text, pattern: pattern) != negated)
        case .isIn(let operand, let set, let negated):
            let value = try evaluate(operand, event)
            for element in set {
                if try evaluate(element, event).cast(to: value.kind) == value { return .boolean(!negated) }
            }
            return .boolean(negated)
        case .binary(let op, let left, let right):
            return try binary(op, left, right, event)
        case .call(let function, let arguments):
            var values: [CESQLValue] = []
            values.reserveCapacity(arguments.count)
            for argument in arguments { values.append(try evaluate(argument, event)) }
            return try function.call(values)
        }
    }

    private static func binary(
        _ op: CESQLNode.BinaryOperator, _ left: CESQLNode, _ right: CESQLNode, _ event: CloudEvent
    ) throws(CESQLEvaluationError) -> CESQLValue {
        switch op {
        case .and, .or, .xor:
            // AND and OR stop at their left operand when it decides (spec 3.4.2).
            let lhs = try evaluate(left, event).boolean()
            if op == .and, !lhs { return .boolean(false) }
            if op == .or, lhs { return .boolean(true) }
            let rhs = try evaluate(right, event).boolean()
            return .boolean(op == .xor ? lhs != rhs : rhs)
        case .equal, .notEqual:
            // Ambiguous operator: the right operand's type decides (`'TRUE' = true` is true,
            // `true = 'TRUE'` is false), as spec 3.7 says.
            let lhs = try evaluate(left, event), rhs = try evaluate(right, event)
            return .boolean((try lhs.cast(to: rhs.kind) == rhs) == (op == .equal))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let lhs = try evaluate(left, event).integer(), rhs = try evaluate(right, event).integer()
            switch op {
            case .less: return .boolean(lhs < rhs)
            case .lessOrEqual: return .boolean(lhs <= rhs)
            case .greater: return .boolean(lhs > rhs)
            default: return .boolean(lhs >= rhs)
            }
        case .add, .subtract, .multiply, .divide, .remainder:
            let lhs = try evaluate(left, event).integer(), rhs = try evaluate(right, event).integer()
            // 32-bit arithmetic wraps, as Go's int32 (the SDK Knative runs) does.
            switch op {
            case .add: return .integer(lhs &+ rhs)
            case .subtract: return .integer(lhs &- rhs)
            case .multiply: return .integer(lhs &* rhs)
            case .divide:
                guard rhs != 0 else { throw .math("division by zero") }
                return .integer(lhs.dividedReportingOverflow(by: rhs).partialValue)
            default:
                guard rhs != 0 else { throw .math("division by zero") }
                return .integer(lhs.remainderReportingOverflow(dividingBy: rhs).partialValue)
            }
        }
    }
}
