/// Why a CESQL expression was refused when the configuration was read, and where.
public struct CESQLParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 1-based character position in the expression.
    public var column: Int
    public var message: String

    public init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    public var description: String { "column \(column): \(message)" }
}
