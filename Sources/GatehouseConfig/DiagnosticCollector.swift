import GatehouseCore
import Yams

/// Gathers diagnostics for one source file; decoders report and carry on so every problem is found in one pass.
final class DiagnosticCollector {
    let file: String
    private(set) var diagnostics: [ConfigDiagnostic] = []
    /// Lines before the document being read; each document is parsed on its own (see `YAMLDocuments`).
    var lineOffset = 0

    init(file: String) {
        self.file = file
    }

    func location(of mark: Mark?, fallback: SourceLocation? = nil) -> SourceLocation {
        if let mark { return SourceLocation(file: file, line: mark.line + lineOffset, column: mark.column) }
        return fallback ?? SourceLocation(file: file, line: 0, column: 0)
    }

    func report(at location: SourceLocation, field: String, _ message: String, fix: String? = nil) {
        diagnostics.append(ConfigDiagnostic(location: location, field: field, message: message, fix: fix))
    }

    /// Puts a better-placed message where an earlier one was (one mistake, one message).
    func replace(at index: Int, with diagnostic: ConfigDiagnostic) {
        diagnostics[index] = diagnostic
    }
}
