import GatehouseCore

/// What happens to each finished request's trace: it is kept for `gatehouse trace` (always), and
/// when sampled and a `Telemetry` names a collector, queued for export. Called on the request's
/// event loop; never waits.
public struct Tracing: Sendable {
    public let recent: RecentTraces
    public let exporter: SpanExporter?
    /// The tracing settings that apply to a request (its function's `Telemetry`, or the mesh's).
    public let policy: @Sendable (RequestRecord) -> TracingPolicy

    public init(recent: RecentTraces, exporter: SpanExporter?, policy: @escaping @Sendable (RequestRecord) -> TracingPolicy) {
        self.recent = recent
        self.exporter = exporter
        self.policy = policy
    }

    public func requestFinished(_ record: RequestRecord) {
        guard record.trace.isValid else { return }
        recent.add(record)
        guard let exporter else { return }
        let settings = policy(record)
        guard !settings.providers.isEmpty, !settings.disableSpanReporting else { return }
        var record = record
        guard record.trace.decideSampling(percentage: settings.randomSamplingPercentage) else { return }
        exporter.append(SpanExporter.Item(record: record, providers: settings.providers))
    }
}
