import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTelemetry
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Writes authorization decisions to the decision log off the request path: queued as requests
/// finish (each entry cut to `DecisionEntry.maxFieldBytes` per field there, so the queue is bounded
/// in bytes too) on the shared `BoundedBatchWriter`, written in one transaction every
/// `flushInterval`, pruned past `retention`, and after each write pruned back within `bounds`. Past
/// `maxBuffered` waiting entries, new ones are dropped and counted
/// (`gatehouse_decision_log_dropped_total`); the access log still has them.
final class DecisionRecorder: Service, Sendable {
    static let maxBuffered = 10_000

    private let log: any DecisionLog
    private let retention: Duration
    private let bounds: DecisionLogBounds
    private let dropped: Counter
    private let logger: Logger
    /// SQLite writes wait for the disk: they run here, not on a thread Swift concurrency needs for
    /// everything else. Owned by `Gatehouse.run()`.
    private let blockingIO: NIOThreadPool
    private let writer: BoundedBatchWriter<DecisionEntry>
    /// Plain allows, kept in memory instead of `decisions.db`; nil: every decision is written.
    let recentAllowed: RecentAllowedDecisions?

    init(log: any DecisionLog, retention: Duration, bounds: DecisionLogBounds = DecisionLogBounds(),
         registry: PrometheusCollectorRegistry, blockingIO: NIOThreadPool, logger: Logger, flushInterval: Duration = .milliseconds(200),
         recentAllowed: RecentAllowedDecisions? = RecentAllowedDecisions()) {
        self.log = log
        self.recentAllowed = recentAllowed
        self.bounds = bounds
        self.retention = retention
        self.logger = logger
        self.blockingIO = blockingIO
        let dropped = registry.makeCounter(descriptor: .named(
            "gatehouse_decision_log_dropped_total", help: "Authorization decisions not written to the decision log because its writer fell behind."))
        self.dropped = dropped
        writer = BoundedBatchWriter(maxEntries: Self.maxBuffered, flushInterval: flushInterval, dropped: dropped) { [log, bounds, logger] entries in
            _ = try? await blockingIO.runIfActive { Self.write(entries, to: log, bounds: bounds, dropped: dropped, logger: logger) }
        }
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
        if let recentAllowed, decision.outcome == .allow, decision.audited.isEmpty, decision.dryRun.isEmpty {
            recentAllowed.append(entry)
        } else {
            writer.append(entry)
        }
    }

    /// What `explain --request-id` reads: the allows in memory, then `decisions.db`.
    var lookup: any DecisionLog { recentAllowed.map { DecisionLookup(stored: log, recent: $0) } ?? log }

    /// The writer's batches, and every minute a prune past `retention`, until shutdown; the last
    /// batch is written after shutdown begins.
    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.writer.run() }
            group.addTask {
                while !Task.isShuttingDownGracefully, !Task.isCancelled {
                    _ = try? await self.blockingIO.runIfActive { self.prune() }
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
                }
            }
        }
    }

    private static func write(
        _ entries: [DecisionEntry], to log: any DecisionLog, bounds: DecisionLogBounds, dropped: Counter, logger: Logger
    ) {
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
