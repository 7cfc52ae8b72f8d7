import AsyncHTTPClient
import Foundation
import GatehouseCore
import GatehouseOutbound
import GatehouseTelemetry
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import SwiftProtobuf

/// Sends sampled requests' spans to OpenTelemetry collectors over OTLP/HTTP (protobuf).
///
/// The request path only appends the finished record to a bounded queue (`BoundedBatchWriter`);
/// spans are built and encoded off the event loops, once per batch, and posted to each provider
/// the requests name. When the queue is full or a collector is slow, down or refuses, spans are
/// dropped and counted (`gatehouse_trace_spans_dropped_total`); nothing waits for a collector.
public final class SpanExporter: Service, Sendable {
    public struct Item: Sendable {
        public var record: RequestRecord
        public var providers: [OpenTelemetryProvider]
        public var customTags: [(String, String)]

        public init(record: RequestRecord, providers: [OpenTelemetryProvider], customTags: [(String, String)] = []) {
            self.record = record
            self.providers = providers
            self.customTags = customTags
        }
    }

    /// Requests waiting for export, at most (Envoy's OpenTelemetry tracer batches likewise), and
    /// their estimated bytes at most (a record holds strings the request controls).
    public static let maxQueued = 2_048
    public static let maxQueuedBytes = 16 << 20
    /// A collector's answer body is read up to this (its error message, for the log).
    static let maxAnswerBytes = 4_096

    private let writer: BoundedBatchWriter<Item>
    private let queueFullDrops: Counter
    private let exportFailedDrops: Counter
    private let exported: Counter

    public init(
        client: ControlPlaneClient, registry: PrometheusCollectorRegistry, meshId: String, version: String, logger: Logger,
        flushInterval: Duration = .milliseconds(200)
    ) {
        let dropped = MetricNameDescriptor.named(
            "gatehouse_trace_spans_dropped_total", help: "Spans not exported: the export queue was full, or the collector failed or refused them.")
        queueFullDrops = registry.makeCounter(descriptor: dropped, labels: [("reason", "queue_full")])
        exportFailedDrops = registry.makeCounter(descriptor: dropped, labels: [("reason", "export_failed")])
        exported = registry.makeCounter(
            descriptor: .named("gatehouse_trace_spans_exported_total", help: "Spans a collector accepted over OTLP/HTTP."))
        let (exported, failed) = (exported, exportFailedDrops)
        writer = BoundedBatchWriter(
            maxEntries: Self.maxQueued, maxBytes: Self.maxQueuedBytes, cost: { RecentTraces.estimatedBytes($0.record) },
            flushInterval: flushInterval, dropped: nil
        ) { items in
            await Self.export(items, client: client, meshId: meshId, version: version, exported: exported, failed: failed, logger: logger)
        }
    }

    public func run() async throws {
        try await writer.run()
    }

    /// Queues a sampled request; drops and counts its spans (one plus its children) when full.
    public func append(_ item: Item) {
        if !writer.append(item) { queueFullDrops.increment(by: Int64(1 + item.record.spans.count)) }
    }

    private static func export(
        _ items: [Item], client: ControlPlaneClient, meshId: String, version: String, exported: Counter, failed: Counter, logger: Logger
    ) async {
        var byProvider: [OpenTelemetryProvider: [FinishedSpan]] = [:]
        for item in items {
            var builder = SpanBuilder(meshId: meshId)
            builder.customTags = item.customTags
            let spans = builder.spans(for: item.record)
            for provider in item.providers { byProvider[provider, default: []].append(contentsOf: spans) }
        }
        await withTaskGroup(of: Void.self) { group in
            for (provider, spans) in byProvider {
                group.addTask {
                    do {
                        try await post(spans, to: provider, client: client, version: version)
                        exported.increment(by: Int64(spans.count))
                    } catch {
                        failed.increment(by: Int64(spans.count))
                        logger.warning("trace export failed; spans dropped", metadata: [
                            "provider": "\(provider.name)", "spans": "\(spans.count)", "error": "\(error)",
                        ])
                    }
                }
            }
        }
    }

    struct Refused: Error, CustomStringConvertible {
        let status: Int
        let body: String
        var description: String { "the collector answered \(status): \(body)" }
    }

    static func post(_ spans: [FinishedSpan], to provider: OpenTelemetryProvider, client: ControlPlaneClient, version: String) async throws {
        let body: [UInt8] = try OTLPEncoding.request(spans, version: version, maxValueLength: provider.maxTagLength).serializedBytes()
        var request = HTTPClientRequest(url: provider.endpoint)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-protobuf")
        for header in provider.headers { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(body)
        let response = try await client.execute(request, timeout: provider.timeout, maxBodyBytes: maxAnswerBytes)
        guard (200..<300).contains(response.status) else {
            throw Refused(status: response.status, body: String(buffer: response.body).prefix(200).description)
        }
    }
}
