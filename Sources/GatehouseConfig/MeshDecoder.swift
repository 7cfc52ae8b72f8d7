import GatehouseCore

/// Decodes the `gatehouse.dev/v1` `Mesh`: settings shared by every function; every field is optional.
enum MeshDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> MeshSpec {
        var mesh = MeshSpec(source: envelope.location)
        defer { envelope.root.reportUnknownKeys() }
        guard let spec = envelope.root.field("spec")?.mapping() else { return mesh }
        if let value = nonEmptyString(spec.field("trustDomain")) { mesh.trustDomain = value }
        if let field = spec.field("rootNamespace"), let value = field.string() {
            if let problem = NameRules.dns1123LabelProblem(value) {
                field.report(problem, fix: "write `rootNamespace: \(NameRules.suggestedLabel(for: value))`")
            }
            mesh.rootNamespace = value
        }
        if let value = nonEmptyString(spec.field("domain")) { mesh.domain = value }
        if let field = spec.field("numTrustedProxies"), let count = field.int() {
            if (0...16).contains(count) {
                mesh.numTrustedProxies = count
            } else {
                field.report("must be between 0 and 16, got \(count)", fix: "write the number of proxies in front of Gatehouse, e.g. 1")
            }
        }
        if let listeners = spec.field("listeners")?.mapping() {
            if let ingress = listenAddress(listeners.field("ingress")) { mesh.ingress = ingress }
            if let admin = listenAddress(listeners.field("admin")) { mesh.admin = admin }
            listeners.reportUnknownKeys()
        }
        spec.reportUnknownKeys()
        return mesh
    }

    private static func nonEmptyString(_ value: YAMLValue?) -> String? {
        guard let value, let text = value.string() else { return nil }
        guard !text.isEmpty else {
            value.report("must not be empty", fix: "remove the field to use the default")
            return nil
        }
        return text
    }

    private static func listenAddress(_ value: YAMLValue?) -> ListenAddress? {
        guard let value, let text = value.string() else { return nil }
        guard let address = ListenAddress(parsing: text) else {
            value.report("invalid listen address \"\(text)\"", fix: "write HOST:PORT with a port from 0 to 65535, e.g. \"127.0.0.1:8080\"")
            return nil
        }
        return address
    }
}
