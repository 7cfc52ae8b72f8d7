import GatehouseConfig
import GatehouseCore
import Testing

/// Loads `yaml` expecting failure and returns the diagnostics, so tests read as "this text gives these problems".
func diagnostics(_ yaml: String, file: String = "test.yaml", sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [ConfigDiagnostic] {
    do {
        let snapshot = try ConfigLoader.load(yaml: yaml, file: file)
        Issue.record("expected diagnostics, got a snapshot with \(snapshot.functions.count) functions", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.diagnostics
    }
}

/// A minimal valid Function document with `extra` appended under `spec:` (indented by the caller).
func functionDocument(name: String = "hello", spec extra: String = "") -> String {
    """
    apiVersion: gatehouse.dev/v1
    kind: Function
    metadata:
      name: \(name)
    spec:
      process:
        command: ["./server"]
    \(extra)
    """
}
