import Foundation
import GatehouseStore
import Logging
import NIOConcurrencyHelpers
import Prometheus
import ServiceLifecycle

/// Gatehouse's writer of the audit log (`AuditLog`): two ways in, one chain.
///
/// - `enqueue` — the request path (denials, AUDIT matches, refused credentials; refused admin
///   calls): appended on the event loop to a `BoundedBatchWriter`, written in batches off it
///   every `flushInterval`. Past `maxQueued` records (or `maxQueuedBytes`), new ones are dropped
///   and counted (`gatehouse_audit_records_dropped_total`), and the next batch starts with an
///   `audit.dropped` record saying how many: the gap is in the chain, not only in a metric.
/// - `record` — what must not be lost (admin changes, CA events, start): written and synced
///   before it returns, so the caller acknowledges nothing that is not on disk.
///
/// After each write a checkpoint is signed when `schedule` says so (every 1000 records, or 60 s
/// after the last when any record is unsigned), and the log is pruned — at most every 10 s — past
/// `retention` or `bounds`, always at a checkpoint. At shutdown the last batch is written, then a
/// `gatehouse.stopped` record and a final checkpoint.
public final class AuditTrail: Service, Sendable {
    public struct Settings: Sendable {
        /// Records older than this go (at the next checkpoint before them). Default 90 days.
        public var retention: Duration = .seconds(90 * 24 * 3600)
        public var bounds = AuditBounds()
        public var schedule = AuditCheckpointSchedule()
        public var maxQueued = 10_000
        public var maxQueuedBytes = 8 << 20
        public var flushInterval: Duration = .milliseconds(200)
        /// The least time between two prunes (each sums the stored records); shorter when
        /// checkpoints come more often (a prune can only cut at a new checkpoint anyway).
        public var pruneInterval: Duration = .seconds(10)
        /// The most `admin.refused` records queued per second; past it they are counted and said
        /// in one record, so a flood of bad credentials neither fills the queue nor the log.
        public var maxRefusedPerSecond = 20

        public init() {}
    }

    public let log: any AuditLog
    private let chain: Chain
    private let writer: BoundedBatchWriter<AuditEvent>
    private let settings: Settings

    public init(log: any AuditLog, signer: AuditSigner, settings: Settings = Settings(), registry: PrometheusCollectorRegistry, logger: Logger) {
        self.log = log
        self.settings = settings
        let dropped = registry.makeCounter(descriptor: .named(
            "gatehouse_audit_records_dropped_total",
            help: "Audit records not written because the audit writer fell behind (an audit.dropped record in the chain says how many)."))
        let chain = Chain(log: log, signer: signer, settings: settings, dropped: dropped, logger: logger)
        self.chain = chain
        writer = BoundedBatchWriter(
            maxEntries: settings.maxQueued, maxBytes: settings.maxQueuedBytes, cost: { $0.estimatedBytes },
            flushInterval: settings.flushInterval, dropped: dropped
        ) { events in await chain.write(events) }
    }

    /// The one SPIFFE ID that signs this log's checkpoints (what verify pins).
    public var auditIdentity: String { chain.signer.id.description }

    /// From the request path: queued, never waits; dropped and counted when the queue is full.
    /// Refused admin calls past `maxRefusedPerSecond` are only counted (one record says how many).
    public func enqueue(_ event: AuditEvent) {
        if event.kind == .adminRefused, !chain.admitRefusal() { return }
        if !writer.append(event) { chain.noteDropped() }
    }

    /// Durable: returns once the record is on disk (and signed, when a checkpoint is due).
    @discardableResult
    public func record(_ event: AuditEvent) async throws(StoreError) -> AuditRecord {
        try await chain.recordNow(event)
    }

    /// Writes what is queued now (what `run()` does every `flushInterval`): for callers that own
    /// no `ServiceGroup`, and tests.
    public func flush() async {
        await writer.flush()
    }

    /// Signs a checkpoint now, when any record is unsigned.
    public func checkpoint() async {
        await chain.checkpoint()
    }

    /// Writes queued batches and keeps checkpoints and retention until graceful shutdown; then
    /// writes the last batch, `gatehouse.stopped` and a final checkpoint.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.writer.run() }
            group.addTask {
                let tick = min(self.settings.schedule.interval, self.settings.pruneInterval)
                while !Task.isShuttingDownGracefully, !Task.isCancelled {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                    await self.chain.housekeeping()
                }
            }
        }
        var stopped = AuditEvent(kind: .stopped, at: Date())
        stopped.detail = "pid \(getpid())"
        _ = try? await chain.recordNow(stopped)
        await chain.checkpoint()
    }

    /// What the writer and the durable path share: the log, the signer, the schedule's state.
    private final class Chain: Sendable {
        let log: any AuditLog
        let signer: AuditSigner
        let settings: Settings
        let dropped: Counter
        let logger: Logger
        private let state: NIOLockedValueBox<State>

        struct State {
            /// Drops not yet said in the chain.
            var unreported = 0
            var lastCheckpointSeq: Int64 = 0
            var lastCheckpointAt = ContinuousClock.now
            var lastPruneAt: ContinuousClock.Instant?
            /// Refused admin calls: this second's count, and those only counted.
            var refusalSecond = ContinuousClock.now
            var refusalsThisSecond = 0
            var refusalsCounted = 0
        }

        init(log: any AuditLog, signer: AuditSigner, settings: Settings, dropped: Counter, logger: Logger) {
            self.log = log
            self.signer = signer
            self.settings = settings
            self.dropped = dropped
            self.logger = logger
            state = NIOLockedValueBox(State())
        }

        func noteDropped(_ count: Int = 1) {
            state.withLockedValue { $0.unreported += count }
        }

        /// Whether a refused admin call gets its own record (false: counted for a summary).
        func admitRefusal() -> Bool {
            let now = ContinuousClock.now
            return state.withLockedValue { state in
                if now - state.refusalSecond >= .seconds(1) {
                    state.refusalSecond = now
                    state.refusalsThisSecond = 0
                }
                state.refusalsThisSecond += 1
                if state.refusalsThisSecond <= settings.maxRefusedPerSecond { return true }
                state.refusalsCounted += 1
                return false
            }
        }

        /// One batch from the queue, led by an `audit.dropped` record when records were lost.
        func write(_ events: [AuditEvent]) async {
            var batch = events
            let (lost, refusals) = state.withLockedValue { state in
                defer { (state.unreported, state.refusalsCounted) = (0, 0) }
                return (state.unreported, state.refusalsCounted)
            }
            if lost > 0 {
                var gap = AuditEvent(kind: .recordsDropped, at: Date())
                gap.count = lost
                gap.detail = "the audit writer fell behind; this many records were dropped here (gatehouse_audit_records_dropped_total)"
                batch.insert(gap, at: 0)
            }
            if refusals > 0 {
                var summary = AuditEvent(kind: .adminRefused, at: Date())
                summary.decision = "deny"
                summary.count = refusals
                summary.detail = "more than \(settings.maxRefusedPerSecond) refused admin calls a second: this many were counted, not recorded one by one"
                batch.append(summary)
            }
            do {
                let records = try await log.append(batch)
                await afterWrite(lastSeq: records.last?.seq)
            } catch {
                // Said in the chain by the next batch that is written: the drops this batch was
                // to report as well as its own records (and the counted refusals again).
                state.withLockedValue { $0.refusalsCounted += refusals }
                noteDropped(lost + events.count)
                dropped.increment(by: Int64(events.count))
                logger.error("could not write \(events.count) audit record(s): \(error)")
            }
        }

        func recordNow(_ event: AuditEvent) async throws(StoreError) -> AuditRecord {
            let records = try await log.append([event])
            await afterWrite(lastSeq: records.last?.seq)
            return records[0]
        }

        private func afterWrite(lastSeq: Int64?) async {
            guard let lastSeq else { return }
            let due = state.withLockedValue { state in
                settings.schedule.isDue(unsigned: lastSeq - state.lastCheckpointSeq, last: state.lastCheckpointAt, now: .now)
            }
            if due { await checkpoint() }
        }

        func checkpoint() async {
            let signer = signer
            do {
                let checkpoint = try await log.checkpoint { head in try signer.sign(head, at: Date()) }
                state.withLockedValue { state in
                    // Its own audit.checkpoint record follows it and needs no checkpoint.
                    if let checkpoint { state.lastCheckpointSeq = checkpoint.seq + 1 }
                    state.lastCheckpointAt = .now
                }
            } catch {
                logger.error("could not sign an audit checkpoint: \(error)")
            }
            await pruneIfDue()
        }

        /// The timer's turn: a checkpoint when one is due by time, then retention.
        func housekeeping() async {
            let elapsed = state.withLockedValue { ContinuousClock.now - $0.lastCheckpointAt }
            if elapsed >= settings.schedule.interval { await checkpoint() } else { await pruneIfDue() }
        }

        private func pruneIfDue() async {
            let now = ContinuousClock.now
            let due = state.withLockedValue { state in
                let interval = min(settings.pruneInterval, settings.schedule.interval)
                guard state.lastPruneAt.map({ now - $0 >= interval }) ?? true else { return false }
                state.lastPruneAt = now
                return true
            }
            guard due else { return }
            let cutoff = Date().addingTimeInterval(-Double(settings.retention.components.seconds))
            do {
                if let pruned = try await log.prune(olderThan: cutoff, toFit: settings.bounds, at: Date()) {
                    logger.info("audit log pruned", metadata: ["removed": "\(pruned.event.count ?? 0)", "anchor": "\(pruned.event.anchorSeq ?? 0)"])
                    try await log.compact()
                }
            } catch {
                logger.error("could not prune the audit log: \(error)")
            }
        }
    }
}
