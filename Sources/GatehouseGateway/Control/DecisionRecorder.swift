import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTelemetry
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Writes authorization decisions to the decision log off the request path: appended to a
/// bounded buffer as requests finish (each entry cut to `DecisionEntry.maxFieldBytes` per field
/// there, so the buffer is bounded in bytes too), written in one transaction every `flushInterval`,
/// pruned past `retention`, and after each write pruned back within `bounds`. Past `maxBuffered`
/// waiting entries, new ones are dropped and counted (`gatehouse_decision_log_dropped_total`);
/// the access log still has them.
final class DecisionRecorder: Service, Sendable {
    static let maxBuffered = 10_000

    private let log: any DecisionLog
    private let retention: Duration
    private let bounds: DecisionLogBounds
    private let flushInterval: Duration
    private let buffer = NIOLockedValueBox<[DecisionEntry]>([])
    private let dropped: Counter
    private let logger: Logger

    init(log: any DecisionLog, retention: Duration, bounds: DecisionLogBounds = DecisionLogBounds(),
         registry: PrometheusCollectorRegistry, logger: Logger, flushInterval: Duration = .milliseconds(200)) {
        self.log = log
        self.bounds = bounds
        self.retention = retention
        self.flushInterval = flushInterval
        self.logger = logger
        dropped = registry.makeCounter(descriptor: .named(
            "gatehouse_decision_log_dropped_total", help: "Authorization decisions not written to the decision log because its writer fell behind."))
    }

    /// Called once per finished request that had a decision, on its event loop.
    func append(_ record: RequestRecord) {
        guard let decision = record.decision, let function = record.destination?.key else { return }
        let entry = DecisionEntry(
            requestId: record.requestId, at: Date(timeIntervalSince1970: Double(record.startWallNanos) / 1e9),
            function: function.description, method: record.method, host: record.authority,
            path: record.path.redacted ?? record.path.value, sourceAddress: record.downstreamAddress,
            outcome: decision.outcome.rawValue, policy: decision.policy, rule: decision.rule, reason: decision.reason,
            audited: decision.audited, dryRun: decision.dryRun
        ).bounded()
        let accepted = buffer.withLockedValue { buffer in
            guard buffer.count < Self.maxBuffered else { return false }
            buffer.append(entry)
            return true
        }
        if !accepted { dropped.increment() }
    }

    func run() async throws {
        var lastPrune = ContinuousClock.now - .seconds(3600)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.flushInterval) }
            await flush()
            if ContinuousClock.now - lastPrune > .seconds(60) {
                lastPrune = .now
                await offload { self.prune() }
            }
        }
        await flush()
    }

    /// SQLite writes wait for the disk: they run on NIO's blocking-I/O pool, not on a thread Swift
    /// concurrency needs for everything else.
    private func offload(_ work: @escaping @Sendable () -> Void) async {
        _ = try? await NIOThreadPool.singleton.runIfActive(work)
    }

    private func flush() async {
        let entries = buffer.withLockedValue { buffer in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        guard !entries.isEmpty else { return }
        await offload { self.write(entries) }
    }

    private func write(_ entries: [DecisionEntry]) {
        do {
            try log.record(entries)
        } catch {
            dropped.increment(by: Int64(entries.count))
            logger.error("could not write \(entries.count) decision(s) to the decision log: \(error)")
        }
        do {
            try log.prune(toFit: bounds)
        } catch {
            logger.error("could not prune the decision log to its bounds: \(error)")
        }
    }

    private func prune() {
        let cutoff = Date().addingTimeInterval(-Double(retention.nanosecondsClamped) / 1e9)
        do {
            try log.prune(olderThan: cutoff)
        } catch {
            logger.error("could not prune the decision log: \(error)")
        }
    }
}
