import Logging
import NIOConcurrencyHelpers
import Prometheus
import ServiceLifecycle

/// The one buffered writer every exchange sink shares (the access log, the decision log; traces and
/// audit records next): the request path appends to a bounded in-memory queue and never waits;
/// `run()` hands what has queued to `sink` in batches, every `flushInterval`, and once more after
/// graceful shutdown begins, so entries appended while the listeners drained are written too.
///
/// - **Bounded**: past `maxEntries` queued entries, or `maxBytes` of their `cost`, a new entry is
///   dropped, counted (`droppedCount`, and the Prometheus counter given, if any) and never blocks.
/// - **Ordered**: the sink sees entries in the order `append` accepted them, one batch at a time
///   (`run()` never hands over a batch before the previous one's sink call returned; a `flush()`
///   called meanwhile from elsewhere hands over a whole batch too, but its sink call may overlap).
/// - **Cheap to append**: one lock, one array append, no allocation past the array's growth and no
///   task; the array's capacity is kept between batches.
///
/// `append` may be called from any thread (event loops); `sink` runs on the service's task, off every
/// event loop — a sink that blocks (a `write(2)` to a slow pipe, SQLite) delays only later batches.
public final class BoundedBatchWriter<Entry: Sendable>: Service, Sendable {
    public typealias Sink = @Sendable ([Entry]) async -> Void

    public let maxEntries: Int
    public let maxBytes: Int
    private let cost: (@Sendable (Entry) -> Int)?
    private let flushInterval: Duration
    private let sink: Sink
    private let droppedCounter: Counter?
    private let state = NIOLockedValueBox(Queue())

    private struct Queue {
        var entries: [Entry] = []
        var bytes = 0
        var dropped = 0
        /// The last batch's array, emptied, handed back so its capacity is reused.
        var spare: [Entry] = []
    }

    /// - Parameters:
    ///   - maxEntries: queued entries past which new ones are dropped.
    ///   - maxBytes: with `cost`, the sum of queued entries' costs past which new ones are dropped.
    ///   - cost: an entry's size in bytes, as far as the bound is concerned (cheap: it runs on the request path).
    ///   - dropped: incremented once per dropped entry (the writer keeps its own count too).
    ///   - sink: writes one batch; never called with an empty one.
    public init(
        maxEntries: Int, maxBytes: Int = .max, cost: (@Sendable (Entry) -> Int)? = nil, flushInterval: Duration,
        dropped: Counter? = nil, sink: @escaping Sink
    ) {
        precondition(maxEntries > 0, "a writer must be able to hold at least one entry")
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
        self.cost = cost
        self.flushInterval = flushInterval
        self.droppedCounter = dropped
        self.sink = sink
    }

    /// Queues `entry`, or drops and counts it when the queue is full. Returns whether it was queued.
    @discardableResult
    public func append(_ entry: Entry) -> Bool {
        let size = cost?(entry) ?? 0
        let accepted = state.withLockedValue { queue in
            guard queue.entries.count < maxEntries, queue.bytes + size <= maxBytes || queue.entries.isEmpty else {
                queue.dropped += 1
                return false
            }
            queue.entries.append(entry)
            queue.bytes += size
            return true
        }
        if !accepted { droppedCounter?.increment() }
        return accepted
    }

    /// Entries dropped so far because the queue was full.
    public var droppedCount: Int { state.withLockedValue { $0.dropped } }

    /// Entries waiting for the next batch.
    public var queuedCount: Int { state.withLockedValue { $0.entries.count } }

    /// Writes batches until graceful shutdown (or cancellation), then writes what is left.
    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // Ends early when shutdown begins, so the last batch is written at once.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.flushInterval) }
            await flush()
        }
        await flush()
    }

    /// Hands everything queued to the sink now, as one batch. Called by `run()`; callers that own
    /// no `ServiceGroup` (tests, a one-shot command) may call it themselves.
    public func flush() async {
        let batch = state.withLockedValue { queue -> [Entry] in
            var batch = queue.spare
            swap(&batch, &queue.entries)
            queue.spare = []
            queue.bytes = 0
            return batch
        }
        guard !batch.isEmpty else {
            giveBack(batch)
            return
        }
        await sink(batch)
        var emptied = batch
        emptied.removeAll(keepingCapacity: true)
        giveBack(emptied)
    }

    private func giveBack(_ emptied: [Entry]) {
        state.withLockedValue { queue in
            if queue.spare.capacity < emptied.capacity { queue.spare = emptied }
        }
    }
}
