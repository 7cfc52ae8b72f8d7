import GatehouseTelemetry
import Logging
import NIOConcurrencyHelpers
import Prometheus
import ServiceLifecycle
import Testing

@Suite("The bounded batch writer every exchange sink shares")
struct BoundedBatchWriterTests {
    /// What the sink was handed, batch by batch.
    final class Received: Sendable {
        private let batches = NIOLockedValueBox<[[Int]]>([])
        var all: [[Int]] { batches.withLockedValue { $0 } }
        var flat: [Int] { all.flatMap { $0 } }
        func add(_ batch: [Int]) { batches.withLockedValue { $0.append(batch) } }
    }

    /// A writer whose timer never fires within a test: only `flush()` and shutdown write.
    static func writer(
        maxEntries: Int, maxBytes: Int = .max, cost: (@Sendable (Int) -> Int)? = nil, registry: PrometheusCollectorRegistry = .init(),
        into received: Received
    ) -> BoundedBatchWriter<Int> {
        BoundedBatchWriter(
            maxEntries: maxEntries, maxBytes: maxBytes, cost: cost, flushInterval: .seconds(3600),
            dropped: registry.makeCounter(descriptor: .named("test_dropped_total", help: "Dropped in a test.")),
            sink: { received.add($0) })
    }

    @Test("Past maxEntries, entries are dropped and counted, never queued; room comes back after a batch")
    func boundedByEntries() async {
        let received = Received()
        let registry = PrometheusCollectorRegistry()
        let writer = Self.writer(maxEntries: 3, registry: registry, into: received)
        let accepted = (1...5).map { writer.append($0) }
        #expect(accepted == [true, true, true, false, false])
        #expect(writer.droppedCount == 2)
        #expect(writer.queuedCount == 3)
        #expect(String(decoding: registry.emitToBuffer(), as: UTF8.self).contains("test_dropped_total 2"))
        await writer.flush()
        #expect(received.all == [[1, 2, 3]])
        #expect(writer.append(6))
        await writer.flush()
        #expect(received.all == [[1, 2, 3], [6]])
    }

    @Test("Past maxBytes of the entries' cost, entries are dropped and counted")
    func boundedByBytes() async {
        let received = Received()
        let writer = Self.writer(maxEntries: 100, maxBytes: 10, cost: { $0 }, into: received)
        #expect(writer.append(4))
        #expect(writer.append(6))
        #expect(!writer.append(1), "4 + 6 + 1 > 10")
        await writer.flush()
        #expect(writer.append(9), "the bytes are given back with the batch")
        await writer.flush()
        #expect(received.all == [[4, 6], [9]])
        #expect(writer.droppedCount == 1)
    }

    @Test("Entries reach the sink in the order they were appended, across threads' turns and batches")
    func orderPreserved() async {
        let received = Received()
        let writer = Self.writer(maxEntries: 10_000, into: received)
        for value in 0..<2_500 {
            writer.append(value)
            if value % 700 == 0 { await writer.flush() }
        }
        await writer.flush()
        #expect(received.flat == Array(0..<2_500))
        #expect(received.all.allSatisfy { !$0.isEmpty }, "an empty batch is never handed over")
    }

    @Test("Graceful shutdown writes what is queued, including entries appended while others drained")
    func flushOnShutdown() async throws {
        let received = Received()
        let writer = Self.writer(maxEntries: 100, into: received)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: writer)], logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }))
        for value in 1...3 { writer.append(value) }
        async let running: Void = group.run()
        writer.append(4)
        await group.triggerGracefulShutdown()
        try await running
        #expect(received.flat == [1, 2, 3, 4], "written once, on the way out (the timer is an hour)")
        #expect(writer.queuedCount == 0)
    }
}
