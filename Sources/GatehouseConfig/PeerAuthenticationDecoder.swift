import GatehouseCore

/// Decodes an Istio `PeerAuthentication` with Istio's validation: known modes, ports from 1 to
/// 65535, `portLevelMtls` only with a selector.
enum PeerAuthenticationDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> PeerAuthenticationSpec {
        var policy = PeerAuthenticationSpec(namespace: envelope.namespace, name: envelope.name, source: envelope.location)
        guard let spec = envelope.root.field("spec")?.mapping() else { return policy }
        defer { spec.reportUnknownKeys() }
        if let selector = spec.field("selector")?.mapping() {
            // As Istio: a selector without labels is no selector (a namespace or mesh policy).
            let labels = selector.field("matchLabels")?.stringMap() ?? [:]
            policy.selector = labels.isEmpty ? nil : labels
            selector.reportUnknownKeys()
        }
        if let mtls = spec.field("mtls")?.mapping() {
            policy.mode = mode(mtls) ?? .unset
            mtls.reportUnknownKeys()
        }
        if let ports = spec.field("portLevelMtls") {
            if policy.selector == nil {
                ports.report("portLevelMtls needs a selector (as in Istio)", fix: "add `selector: {matchLabels: …}` naming the function")
            }
            guard case .mapping(let mapping) = ports.node else {
                ports.report("expected a mapping of port to {mode: …}", fix: "write e.g. `8080: {mode: DISABLE}`")
                return policy
            }
            for (key, value) in mapping {
                let portValue = YAMLValue(node: key, path: ports.path, diagnostics: ports.diagnostics)
                guard let text = key.scalar?.string, let port = Int(text), (1...65535).contains(port) else {
                    portValue.report("\"\(key.scalar?.string ?? "")\" is not a port", fix: "write a port number between 1 and 65535")
                    continue
                }
                let entry = YAMLValue(node: value, path: "\(ports.path).\(port)", diagnostics: ports.diagnostics)
                guard let settings = entry.mapping() else { continue }
                policy.portModes[port] = mode(settings) ?? .unset
                settings.reportUnknownKeys()
            }
        }
        return policy
    }

    private static func mode(_ mapping: YAMLMappingReader) -> PeerAuthenticationSpec.Mode? {
        mapping.field("mode")?.oneOf(
            PeerAuthenticationSpec.Mode.self, what: "mode", key: "mode", otherwise: "write STRICT, PERMISSIVE, DISABLE or UNSET")
    }
}
