/// Why evaluating a CESQL expression on one event failed. A filter treats every one of them as
/// "does not match" (the spec's fail-fast mode, and what Knative does).
public enum CESQLEvaluationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The expression reads an attribute the event does not have.
    case missingAttribute(String)
    case cast(String)
    /// Division or remainder by zero; `ABS` of the smallest integer.
    case math(String)
    /// A function refused its arguments (`SUBSTRING` past the end, `LEFT` with a negative length).
    case function(String)

    public var description: String {
        switch self {
        case .missingAttribute(let name): "the event has no attribute \"\(name)\""
        case .cast(let reason), .math(let reason), .function(let reason): reason
        }
    }
}
