import GatehouseCore
import Yams

/// Accumulates decoded documents from every source and enforces the rules that span documents
/// (one Mesh, unique function names).
struct SnapshotBuilder {
    private var mesh: MeshSpec?
    private var functions: [FunctionSpec] = []
    private var functionLocations: [FunctionKey: SourceLocation] = [:]
    private var istioResources: [IstioResource] = []
    private var notices: [ConfigNotice] = []

    /// Decodes one YAML document (already known not to be empty) into the snapshot.
    mutating func add(_ node: Node, diagnostics: DiagnosticCollector) {
        guard let envelope = DocumentEnvelope.read(node, diagnostics: diagnostics) else { return }
        switch envelope.family {
        case .gatehouse where envelope.kind == "Function":
            addFunction(FunctionDecoder.decode(envelope), envelope: envelope)
        case .gatehouse:
            addMesh(MeshDecoder.decode(envelope), envelope: envelope, diagnostics: diagnostics)
        case .istio:
            istioResources.append(IstioResource(
                apiVersion: envelope.apiVersion, kind: envelope.kind, namespace: envelope.namespace,
                name: envelope.name, source: envelope.location))
            notices.append(ConfigNotice(
                location: envelope.location, message: "\(envelope.resourceDescription): accepted, not enforced yet"))
        case .unsupported:
            notices.append(ConfigNotice(
                location: envelope.location,
                message: "\(envelope.apiVersion) \(envelope.resourceDescription): not supported (ignored)"))
        case .rejected:
            break
        }
    }

    func build() -> ConfigSnapshot {
        ConfigSnapshot(
            mesh: mesh ?? MeshSpec(),
            functions: functions.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) },
            istioResources: istioResources,
            notices: notices)
    }

    private mutating func addFunction(_ function: FunctionSpec, envelope: DocumentEnvelope) {
        guard let nameValue = envelope.nameValue else { return }
        if let first = functionLocations[function.key] {
            nameValue.report(
                "duplicate Function \(function.key); first defined at \(first.gatehousePrefix)",
                fix: "rename one of them or delete the duplicate")
            return
        }
        functionLocations[function.key] = envelope.location
        functions.append(function)
    }

    private mutating func addMesh(_ decoded: MeshSpec, envelope: DocumentEnvelope, diagnostics: DiagnosticCollector) {
        if let first = mesh?.source {
            diagnostics.report(
                at: envelope.location, field: "",
                "a second Mesh document; only one is allowed, the first is at \(first.gatehousePrefix)",
                fix: "merge the settings into one Mesh document")
            return
        }
        mesh = decoded
    }
}
