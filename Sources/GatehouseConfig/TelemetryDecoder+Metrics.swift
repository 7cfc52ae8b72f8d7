import GatehouseCore

extension TelemetryDecoder {
    /// `metrics[]`: providers, overrides (disable a metric, change its labels), reportingInterval.
    static func decodeMetrics(_ rule: YAMLMappingReader, into decoded: inout Decoded, index: Int) -> TelemetrySpec.Metrics {
        defer { rule.reportUnknownKeys() }
        var metrics = TelemetrySpec.Metrics()
        metrics.providers = providers(rule, section: .metrics, into: &decoded)
        if rule.field("reportingInterval")?.positiveDuration() != nil {
            decoded.notices.append("metrics[\(index)].reportingInterval is not supported (ignored): Prometheus reads the current values when it scrapes")
        }
        for (position, value) in (rule.field("overrides")?.sequence() ?? []).enumerated() {
            guard let override = value.mapping() else { continue }
            if let decodedOverride = decodeOverride(override, into: &decoded, what: "metrics[\(index)].overrides[\(position)]") {
                metrics.overrides.append(decodedOverride)
            }
        }
        return metrics
    }

    private static func decodeOverride(_ override: YAMLMappingReader, into decoded: inout Decoded, what: String) -> TelemetrySpec.MetricsOverride? {
        defer { override.reportUnknownKeys() }
        var result = TelemetrySpec.MetricsOverride(metrics: IstioMetric.allCases, matchesAll: false)
        var applies = true
        if let match = override.field("match")?.mapping() {
            defer { match.reportUnknownKeys() }
            if let field = match.field("metric"), let name = field.string() {
                if name == "ALL_METRICS" {
                    result.matchesAll = true
                } else if let metric = IstioMetric(rawValue: name) {
                    result.metrics = [metric]
                } else if IstioMetric.notRecorded.contains(name) {
                    result.metrics = []
                    decoded.notices.append("\(what): Gatehouse records no \(name) metric; the override has nothing to act on")
                } else {
                    let allowed = IstioMetric.allCases.map(\.rawValue) + ["ALL_METRICS"] + IstioMetric.notRecorded
                    field.report(
                        "unknown metric \"\(name)\"; allowed: \(allowed.joined(separator: ", "))",
                        fix: Spelling.suggestion(for: name, among: allowed).map { "write `metric: \($0)`" } ?? "write e.g. `metric: REQUEST_COUNT`")
                }
            }
            if let field = match.field("customMetric"), let name = field.string() {
                result.metrics = []
                decoded.notices.append("\(what): Gatehouse has no custom metric \"\(name)\"; the override has nothing to act on")
            }
            if let mode = match.field("mode")?.oneOf(
                WorkloadMode.self, what: "mode", key: "mode", otherwise: "write CLIENT_AND_SERVER, SERVER or CLIENT"), mode == .client {
                decoded.notices.append("\(what) is for `mode: CLIENT` only; Gatehouse reports as the server (the destination), so it does not apply")
                applies = false
            }
        }
        result.disabled = override.field("disabled")?.bool()
        if let tags = override.field("tagOverrides") { result.tagOverrides = tagOverrides(tags) }
        return applies ? result : nil
    }

    /// `tagOverrides: {LABEL: {operation: UPSERT|REMOVE, value: EXPRESSION}}`.
    private static func tagOverrides(_ value: YAMLValue) -> [TagOverride] {
        guard case .mapping(let mapping) = value.node else {
            value.report("expected a mapping of label name to {operation, value}", fix: "write e.g. `request_host: {value: request.host}`")
            return []
        }
        enum Operation: String, CaseIterable { case upsert = "UPSERT", remove = "REMOVE" }
        var result: [TagOverride] = []
        for (key, node) in mapping {
            let keyValue = YAMLValue(node: key, path: value.path, diagnostics: value.diagnostics)
            guard let name = keyValue.string() else { continue }
            let entry = YAMLValue(node: node, path: "\(value.path).\(name)", diagnostics: value.diagnostics)
            guard let settings = entry.mapping() else { continue }
            defer { settings.reportUnknownKeys() }
            guard isLabelName(name) else {
                keyValue.report("\"\(name)\" is not a Prometheus label name (letters, digits, `_`, not starting with a digit)",
                                fix: "write e.g. `request_host`")
                continue
            }
            let operation = settings.field("operation")?.oneOf(Operation.self, what: "operation", key: "operation", otherwise: "write UPSERT or REMOVE") ?? .upsert
            switch operation {
            case .remove:
                _ = settings.field("value")
                result.append(TagOverride(name: name, operation: .remove))
            case .upsert:
                guard let field = settings.required("value", fix: "add `value:`, e.g. request.host or a quoted 'literal'"),
                      let text = field.string() else { continue }
                do throws(TelemetryExpressionError) {
                    result.append(TagOverride(name: name, operation: .upsert(try TelemetryOperand(parsingTagValue: text))))
                } catch {
                    field.report("\"\(text)\" is not a tag value Gatehouse evaluates: \(error.message)",
                                 fix: "write one of \(TelemetryOperand.supportedTagValues)")
                }
            }
        }
        return result
    }

    private static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }
}
