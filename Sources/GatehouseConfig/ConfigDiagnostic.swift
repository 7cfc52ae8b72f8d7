import GatehouseCore

/// One problem in the configuration, precise enough to fix without reading the loader:
/// where it is, which field, what is wrong and what to write instead.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    /// File, line and column of the offending node (1-based; line 0 when the problem has no line, e.g. a missing file).
    public var location: SourceLocation
    /// A path such as `spec.scaling.maxInstances` or `spec.process.env[1].value`; empty for whole-document problems.
    public var field: String
    public var message: String
    public var fix: String?

    public init(location: SourceLocation, field: String, message: String, fix: String? = nil) {
        self.location = location
        self.field = field
        self.message = message
        self.fix = fix
    }

    /// `FILE:LINE:COL: FIELD: MESSAGE (fix: FIX)`, the shape compilers use so editors can jump to it.
    public var description: String {
        var text = location.gatehousePrefix + ": "
        if !field.isEmpty { text += field + ": " }
        text += message
        if let fix, !fix.isEmpty { text += " (fix: \(fix))" }
        return text
    }
}

/// Something worth telling the operator that does not stop the load, e.g. a resource that is ignored.
public struct ConfigNotice: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location.gatehousePrefix): \(message)" }
}

/// Every problem found in one load; thrown only after all documents were read, so one run shows them all.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

extension SourceLocation {
    /// `FILE:LINE:COL`, or just `FILE` when there is no line to point at.
    var gatehousePrefix: String {
        line > 0 ? "\(file):\(line):\(column)" : file
    }
}
