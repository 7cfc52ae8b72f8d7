import GatehouseCore

/// Decodes an Istio `Telemetry` (v1 / v1alpha1): scope, `tracing`, `accessLogging` and `metrics`.
/// Expressions are compiled here, once; one outside the supported subset is an error. Istio fields
/// Gatehouse does not act on are read and named in `notices`, never silently dropped; provider
/// names are checked against the Mesh once the whole config is read (`providers`).
enum TelemetryDecoder {
    struct Decoded {
        var spec: TelemetrySpec
        /// Every provider name written, where, and in which section: checked across documents.
        var providers: [ProviderReference] = []
        /// Fields accepted but without effect in Gatehouse, each said once per apply.
        var notices: [String] = []
    }

    struct ProviderReference {
        enum Section: String { case tracing, accessLogging, metrics }
        var name: String
        var section: Section
        var location: SourceLocation
        var field: String
    }

    /// Istio's `WorkloadMode`; Gatehouse reports as the server side.
    enum WorkloadMode: String, CaseIterable {
        case clientAndServer = "CLIENT_AND_SERVER", client = "CLIENT", server = "SERVER"
    }

    static func decode(_ envelope: DocumentEnvelope) -> Decoded {
        var decoded = Decoded(spec: TelemetrySpec(namespace: envelope.namespace, name: envelope.name, source: envelope.location))
        guard let spec = envelope.root.field("spec")?.mapping() else { return decoded }
        defer { spec.reportUnknownKeys() }
        let scope = PolicyScopeDecoder.decode(spec)
        decoded.spec.selector = scope.selector.flatMap { $0.isEmpty ? nil : $0 }
        decoded.spec.targetNames = scope.targetNames
        for (index, value) in (spec.field("tracing")?.sequence() ?? []).enumerated() {
            guard let rule = value.mapping() else { continue }
            if let tracing = decodeTracing(rule, into: &decoded, index: index) { decoded.spec.tracing.append(tracing) }
        }
        for (index, value) in (spec.field("accessLogging")?.sequence() ?? []).enumerated() {
            guard let rule = value.mapping() else { continue }
            if let logging = decodeAccessLogging(rule, into: &decoded, index: index) { decoded.spec.accessLogging.append(logging) }
        }
        for (index, value) in (spec.field("metrics")?.sequence() ?? []).enumerated() {
            guard let rule = value.mapping() else { continue }
            decoded.spec.metrics.append(decodeMetrics(rule, into: &decoded, index: index))
        }
        return decoded
    }

    /// `providers: [{name: …}]`, recorded for the cross-document check.
    static func providers(_ rule: YAMLMappingReader, section: ProviderReference.Section, into decoded: inout Decoded) -> [String] {
        var names: [String] = []
        for value in rule.field("providers")?.sequence() ?? [] {
            guard let reference = value.mapping() else { continue }
            defer { reference.reportUnknownKeys() }
            guard let nameValue = reference.required("name", fix: "add `name:`, a provider the Mesh declares (or envoy, prometheus)"),
                  let name = nameValue.string() else { continue }
            names.append(name)
            decoded.providers.append(ProviderReference(name: name, section: section, location: nameValue.location, field: nameValue.path))
        }
        return names
    }

    /// `match.mode`; false when the rule is for the client side only, which Gatehouse never is.
    static func appliesToServer(_ rule: YAMLMappingReader, into decoded: inout Decoded, what: String) -> Bool {
        guard let match = rule.field("match")?.mapping() else { return true }
        defer { match.reportUnknownKeys() }
        guard let mode = match.field("mode")?.oneOf(
            WorkloadMode.self, what: "mode", key: "mode", otherwise: "write CLIENT_AND_SERVER, SERVER or CLIENT") else { return true }
        guard mode != .client else {
            decoded.notices.append("\(what) is for `mode: CLIENT` only; Gatehouse reports as the server (the destination), so it does not apply")
            return false
        }
        return true
    }

    private static func decodeTracing(_ rule: YAMLMappingReader, into decoded: inout Decoded, index: Int) -> TelemetrySpec.Tracing? {
        defer { rule.reportUnknownKeys() }
        var tracing = TelemetrySpec.Tracing()
        let applies = appliesToServer(rule, into: &decoded, what: "tracing[\(index)]")
        tracing.providers = providers(rule, section: .tracing, into: &decoded)
        if tracing.providers.count > 1 {
            decoded.notices.append("tracing[\(index)].providers: only the first provider (\(tracing.providers[0])) is used, as in Istio")
        }
        if let field = rule.field("randomSamplingPercentage") { tracing.randomSamplingPercentage = MeshDecoder.percentage(field) }
        tracing.disableSpanReporting = rule.field("disableSpanReporting")?.bool()
        if let tags = rule.field("customTags") { tracing.customTags = customTags(tags) }
        for name in ["useRequestIdForTraceSampling", "enableIstioTags"] where rule.field(name) != nil {
            decoded.notices.append("tracing[\(index)].\(name) is not supported (ignored)")
        }
        return applies ? tracing : nil
    }

    /// `customTags: {NAME: {literal: {value}} | {header: {name, defaultValue}} | {environment: {name, defaultValue}}}`.
    private static func customTags(_ value: YAMLValue) -> [CustomTag]? {
        guard case .mapping(let mapping) = value.node else {
            value.report("expected a mapping of tag name to its source", fix: "write e.g. `my_tag: {literal: {value: v1}}`")
            return nil
        }
        var tags: [CustomTag] = []
        for (key, node) in mapping {
            guard let name = YAMLValue(node: key, path: value.path, diagnostics: value.diagnostics).string() else { continue }
            let entry = YAMLValue(node: node, path: "\(value.path).\(name)", diagnostics: value.diagnostics)
            guard let source = entry.mapping() else { continue }
            defer { source.reportUnknownKeys() }
            var found: [CustomTag.Source] = []
            if let literal = source.field("literal")?.mapping() {
                if let text = literal.required("value", fix: "add `value:`")?.text() { found.append(.literal(text)) }
                literal.reportUnknownKeys()
            }
            for kind in ["header", "environment"] {
                guard let reader = source.field(kind)?.mapping() else { continue }
                defer { reader.reportUnknownKeys() }
                let fallback = reader.field("defaultValue")?.text()
                guard let variable = reader.required("name", fix: "add `name:`")?.string() else { continue }
                found.append(kind == "header" ? .header(name: variable.lowercased(), defaultValue: fallback) : .environment(name: variable, defaultValue: fallback))
            }
            if found.count == 1 {
                tags.append(CustomTag(name: name, source: found[0]))
            } else {
                source.diagnostics.report(
                    at: source.location, field: source.path, "a custom tag needs exactly one of `literal`, `header`, `environment`",
                    fix: "write e.g. `\(name): {literal: {value: v1}}`")
            }
        }
        return tags
    }

    private static func decodeAccessLogging(_ rule: YAMLMappingReader, into decoded: inout Decoded, index: Int) -> TelemetrySpec.AccessLogging? {
        defer { rule.reportUnknownKeys() }
        var logging = TelemetrySpec.AccessLogging()
        let applies = appliesToServer(rule, into: &decoded, what: "accessLogging[\(index)]")
        logging.providers = providers(rule, section: .accessLogging, into: &decoded)
        logging.disabled = rule.field("disabled")?.bool()
        if let filter = rule.field("filter")?.mapping() {
            defer { filter.reportUnknownKeys() }
            if let value = filter.required("expression", fix: "add `expression:`, e.g. \"response.code >= 400\""), let text = value.string() {
                do throws(TelemetryExpressionError) {
                    logging.filter = try TelemetryExpression(parsing: text)
                } catch {
                    value.report(
                        "\"\(text)\" is outside the filter subset Gatehouse evaluates: \(error.message)",
                        fix: "write \(TelemetryExpression.supportedForms)")
                }
            }
            if logging.providers.isEmpty {
                decoded.notices.append("accessLogging[\(index)].filter applies to the providers its rule names, and this rule names none "
                    + "(as in Istio, it has no effect); add `providers: [{name: envoy}]`")
            }
        }
        return applies ? logging : nil
    }
}
