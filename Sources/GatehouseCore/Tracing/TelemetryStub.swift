// Placeholder until the Telemetry kind lands (branch telemetry-kind); replaced at merge.
public struct OpenTelemetryProvider: Hashable, Sendable {
    public struct Header: Hashable, Sendable {
        public var name: String
        public var value: String
    }
    public var name: String
    public var service: String
    public var port: Int
    public var path: String = "/v1/traces"
    public var timeout: Duration = .seconds(10)
    public var headers: [Header] = []

    public init(name: String, service: String, port: Int) {
        self.name = name
        self.service = service
        self.port = port
    }
}

public struct TracingPolicy: Sendable {
    public var providers: [OpenTelemetryProvider] = []
    public var randomSamplingPercentage: Double = 1
    public var disableSpanReporting = false
    public init() {}
}
