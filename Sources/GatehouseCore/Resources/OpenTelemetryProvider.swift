/// A trace collector declared in `Mesh.extensionProviders`, Istio's `opentelemetry` provider:
/// Telemetry `tracing` rules (and `Mesh.defaultProviders.tracing`) name it, and spans are exported
/// to it over OTLP/HTTP (Gatehouse does not speak OTLP/gRPC, so `http:` is required).
public struct OpenTelemetryProvider: Hashable, Sendable {
    public var name: String
    /// The collector's host name or address (Istio names a Kubernetes service here).
    public var service: String
    /// The collector's OTLP/HTTP port (4318 by convention).
    public var port: Int
    /// Where spans are POSTed (`http.path`).
    public var path: String
    /// How long one export may take (`http.timeout`); 3 s when not written (Gatehouse's default:
    /// exports run off the request path, so a slow collector costs only dropped batches).
    public var timeout: Duration
    /// Sent with every export (`http.headers`), e.g. a collector's API key; in order, as written.
    public var headers: [Header]
    /// Longest value of a span attribute (`maxTagLength`); Istio's default is 256.
    public var maxTagLength: Int

    public struct Header: Hashable, Sendable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public static let defaultPath = "/v1/traces"
    public static let defaultTimeout = Duration.seconds(3)
    public static let defaultMaxTagLength = 256

    public init(
        name: String, service: String, port: Int, path: String = defaultPath, timeout: Duration = defaultTimeout,
        headers: [Header] = [], maxTagLength: Int = defaultMaxTagLength
    ) {
        self.name = name
        self.service = service
        self.port = port
        self.path = path
        self.timeout = timeout
        self.headers = headers
        self.maxTagLength = maxTagLength
    }

    /// `http://SERVICE:PORT/PATH`, where spans go.
    public var endpoint: String {
        let host = service.contains(":") && !service.hasPrefix("[") ? "[\(service)]" : service
        return "http://\(host):\(port)\(path)"
    }
}

/// The providers Istio defines without a declaration, and Gatehouse's meaning for them.
public enum BuiltInTelemetryProvider {
    /// Istio's `envoy` access log (a file or stdout): Gatehouse's own JSON access log (`--access-log`).
    public static let accessLog = "envoy"
    /// Istio's `prometheus` metrics: Gatehouse's `istio_*` metrics on the admin listener's `/metrics`.
    public static let metrics = "prometheus"
    public static let names = [accessLog, metrics]
}

/// `Mesh.spec.defaultProviders` (meshConfig's): the providers used where no Telemetry names any.
/// nil means "not written": Gatehouse then behaves as a mesh with `accessLogging: [envoy]` and
/// `metrics: [prometheus]` (its access log and metrics are on by default) and no tracing.
public struct DefaultTelemetryProviders: Hashable, Sendable {
    public var tracing: [String]?
    public var accessLogging: [String]?
    public var metrics: [String]?

    public init(tracing: [String]? = nil, accessLogging: [String]? = nil, metrics: [String]? = nil) {
        self.tracing = tracing
        self.accessLogging = accessLogging
        self.metrics = metrics
    }

    public var effectiveTracing: [String] { tracing ?? [] }
    public var effectiveAccessLogging: [String] { accessLogging ?? [BuiltInTelemetryProvider.accessLog] }
    public var effectiveMetrics: [String] { metrics ?? [BuiltInTelemetryProvider.metrics] }
}
