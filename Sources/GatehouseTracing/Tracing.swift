import Foundation
import GatehouseCore

/// What happens to each finished request's trace: it is kept for `gatehouse trace` (always), and
/// when sampled and a `Telemetry` names a collector, queued for export. Called on the request's
/// event loop; never waits.
public struct Tracing: Sendable {
    /// Nil when `up --kept-traces 0` keeps none.
    public let recent: RecentTraces?
    public let exporter: SpanExporter?
    /// The tracing settings for requests that reached no function (the mesh-wide Telemetry's);
    /// a routed request's are on its destination.
    public let unrouted: @Sendable () -> TracingPolicy
    /// Gatehouse's environment, for `customTags` of kind `environment` (read once, at start).
    private let environment: [String: String]

    public init(
        recent: RecentTraces?, exporter: SpanExporter?, environment: [String: String] = ProcessInfo.processInfo.environment,
        unrouted: @escaping @Sendable () -> TracingPolicy
    ) {
        self.recent = recent
        self.exporter = exporter
        self.environment = environment
        self.unrouted = unrouted
    }

    public func requestFinished(_ record: RequestRecord) {
        guard record.trace.isValid else { return }
        recent?.add(record)
        guard let exporter else { return }
        let settings = record.destination?.telemetry.tracing ?? unrouted()
        guard settings.reportsSpans else { return }
        var record = record
        guard record.trace.decideSampling(percentage: settings.randomSamplingPercentage) else { return }
        exporter.append(SpanExporter.Item(record: record, providers: settings.providers, customTags: tags(settings.customTags, record)))
    }

    /// `Telemetry` `customTags` as values for this request: a literal, a request header (kept on the
    /// record when it began, `TelemetryHeaders`) or one of Gatehouse's environment variables.
    func tags(_ tags: [CustomTag], _ record: RequestRecord) -> [(String, String)] {
        guard !tags.isEmpty else { return [] }
        let headers = record.extensions[TelemetryHeaders.self]
        return tags.compactMap { tag in
            switch tag.source {
            case .literal(let value): (tag.name, value)
            case .header(let name, let fallback): (headers?.value(named: name) ?? fallback).map { (tag.name, $0) }
            case .environment(let name, let fallback): (environment[name] ?? fallback).map { (tag.name, $0) }
            }
        }
    }
}
