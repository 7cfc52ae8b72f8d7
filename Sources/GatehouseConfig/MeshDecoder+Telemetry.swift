import GatehouseCore

/// The Mesh's telemetry settings, in meshConfig's names: `opentelemetry` providers,
/// `defaultProviders` and `defaultConfig.tracing.sampling`.
extension MeshDecoder {
    /// `extensionProviders[].opentelemetry`: OTLP/HTTP only, so `http:` is required.
    static func openTelemetryProvider(_ collector: YAMLMappingReader, name: String) -> OpenTelemetryProvider? {
        defer { collector.reportUnknownKeys() }
        let service = collector.required("service", fix: "add `service:`, the collector's host name or address")?.string()
        let portValue = collector.required("port", fix: "add `port: 4318`, the collector's OTLP/HTTP port")
        let port = portValue?.int()
        if let port, !(1...65535).contains(port) {
            portValue?.report("must be between 1 and 65535, got \(port)", fix: "write the collector's OTLP/HTTP port, e.g. 4318")
        }
        if collector.field("grpc") != nil {
            collector.field("grpc")?.report("Gatehouse exports OTLP over HTTP only", fix: "replace `grpc:` with `http: {path: /v1/traces}` and use the collector's OTLP/HTTP port (4318)")
        }
        collector.field("resourceDetectors")?.report("resource detectors are not supported", fix: "remove `resourceDetectors`")
        collector.field("dynatraceSampler")?.report("the Dynatrace sampler is not supported", fix: "remove `dynatraceSampler`")
        var maxTagLength = OpenTelemetryProvider.defaultMaxTagLength
        if let field = collector.field("maxTagLength"), let length = field.int() {
            if length > 0 { maxTagLength = length } else { field.report("must be at least 1", fix: "write e.g. 256 (Istio's default)") }
        }
        guard let http = collector.field("http")?.mapping() else {
            if collector.field("grpc") == nil {
                collector.diagnostics.report(
                    at: collector.location, field: collector.fieldPath("http"),
                    "Gatehouse exports OTLP over HTTP only; an opentelemetry provider needs `http:`",
                    fix: "add `http: {path: /v1/traces}` and use the collector's OTLP/HTTP port (4318)")
            }
            return nil
        }
        defer { http.reportUnknownKeys() }
        guard let service, let port, (1...65535).contains(port) else { return nil }
        var provider = OpenTelemetryProvider(name: name, service: service, port: port, maxTagLength: maxTagLength)
        if let field = http.field("path"), let path = field.string() {
            if path.hasPrefix("/") { provider.path = path } else { field.report("must start with /", fix: "write e.g. /v1/traces") }
        }
        if let timeout = http.field("timeout")?.positiveDuration() { provider.timeout = timeout }
        for value in http.field("headers")?.sequence() ?? [] {
            guard let header = value.mapping() else { continue }
            defer { header.reportUnknownKeys() }
            if let name = header.required("name", fix: "add `name:`, the header's name")?.string(),
               let text = header.required("value", fix: "add `value:`")?.text() {
                provider.headers.append(.init(name: name, value: text))
            }
        }
        return provider
    }

    /// `defaultProviders: {tracing, accessLogging, metrics}`: provider names, checked against the
    /// declared ones once the whole config is read.
    static func defaultProviders(_ mapping: YAMLMappingReader) -> DefaultTelemetryProviders {
        defer { mapping.reportUnknownKeys() }
        return DefaultTelemetryProviders(
            tracing: mapping.field("tracing")?.stringList(),
            accessLogging: mapping.field("accessLogging")?.stringList(),
            metrics: mapping.field("metrics")?.stringList())
    }

    /// `defaultConfig.tracing.sampling`: the only proxy setting Gatehouse reads.
    static func tracingSampling(_ defaultConfig: YAMLMappingReader) -> Double? {
        defer { defaultConfig.reportUnknownKeys() }
        guard let tracing = defaultConfig.field("tracing")?.mapping() else { return nil }
        defer { tracing.reportUnknownKeys() }
        guard let field = tracing.field("sampling") else { return nil }
        return percentage(field)
    }

    /// A number from 0 to 100 (an integer or a decimal).
    static func percentage(_ field: YAMLValue) -> Double? {
        guard let text = field.node.scalar?.string, field.node.scalarType == .int || field.node.scalarType == .float,
              let value = Double(text) else {
            field.report("expected a percentage, got \(field.node.shortDescription)", fix: "write a number from 0 to 100, e.g. 10")
            return nil
        }
        guard (0...100).contains(value) else {
            field.report("must be between 0 and 100, got \(text)", fix: "write a number from 0 to 100, e.g. 10")
            return nil
        }
        return value
    }
}
