import Foundation
import GatehouseCore
import Testing

@testable import GatehouseStore

/// Numbers for docs/performance.md, not assertions: run with
/// `GATEHOUSE_EVENTS_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter EventStoreBenchmark`
/// on a quiet machine (fsync latency, which bounds commits per second, swings 10× when other
/// processes write to the disk: compare on and off within one run). Prints accepts/second with group commit on and off (32 concurrent writers, one
/// event of ~100 bytes and one trigger per accept), lease+settle throughput, and how long
/// `backlog()` takes at 100 000 deliveries.
@Suite("EventStoreBenchmark", .enabled(if: ProcessInfo.processInfo.environment["GATEHOUSE_EVENTS_BENCH"] != nil), .serialized)
struct EventStoreBenchmark {
    func accepts(groupCommit: Bool, writers: Int, seconds: Double) async throws -> (perSecond: Double, commits: Int, accepts: Int) {
        let folder = try EventStoreFolder()
        defer { folder.remove() }
        let store = try folder.open(bounds: EventStoreBounds(maxPending: 10_000_000, maxPendingBytes: 1 << 40), groupCommit: groupCommit)
        let start = ContinuousClock.now
        let deadline = start + .seconds(seconds)
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        _ = try await store.accept([newEvent("w\(writer)-\(count)")], now: t0)
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = ContinuousClock.now - start
        return (Double(total) / EventRowCoding.seconds(elapsed), store.durableCommitCount, total)
    }

    @Test("accepts per second, group commit on and off")
    func acceptRate() async throws {
        for (groupCommit, writers) in [(false, 32), (true, 32), (true, 1), (false, 32), (true, 32), (true, 1)] {
            let result = try await accepts(groupCommit: groupCommit, writers: writers, seconds: 5)
            print("events-bench accept groupCommit=\(groupCommit) writers=\(writers): \(Int(result.perSecond))/s, "
                + "\(result.accepts) accepts in \(result.commits) commits (\(String(format: "%.1f", Double(result.accepts) / Double(max(1, result.commits)))) per commit)")
        }
    }

    @Test("lease + settle, and backlog() at 100k deliveries")
    func leaseSettleAndBacklog() async throws {
        let folder = try EventStoreFolder()
        defer { folder.remove() }
        let store = try folder.open()
        let triggers = (0..<10).map { TriggerRef(namespace: "default", name: "t\($0)") }
        var clock = ContinuousClock.now
        for batch in 0..<100 {
            let events = (0..<100).map { NewEvent(broker: defaultBroker, event: orderEvent("b\(batch)-\($0)"), triggers: triggers) }
            _ = try await store.accept(events, now: t0.addingTimeInterval(Double(batch)))
        }
        print("events-bench fill: 10 000 events × 10 triggers in \(ContinuousClock.now - clock)")
        for _ in 0..<3 {
            clock = ContinuousClock.now
            let backlog = try await store.backlog()
            print("events-bench backlog(): \(backlog.values.map(\.count).reduce(0, +)) deliveries, \(backlog.count) triggers in \(ContinuousClock.now - clock)")
        }
        for concurrent in [false, true, false, true] {
            clock = ContinuousClock.now
            var settled = 0
            while settled < 5_000 {
                let leased = try await store.lease(
                    owner: "a", now: t0.addingTimeInterval(200), leaseFor: .seconds(30), slots: Dictionary(uniqueKeysWithValues: triggers.map { ($0, 10) }))
                if concurrent {
                    // As a dispatcher settles: each delivery's task on its own, all at once.
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for delivery in leased {
                            group.addTask { try await store.settle(delivery.id, owner: "a", outcome: .delivered(status: 200), now: t0) }
                        }
                        try await group.waitForAll()
                    }
                } else {
                    for delivery in leased {
                        try await store.settle(delivery.id, owner: "a", outcome: .delivered(status: 200), now: t0)
                    }
                }
                settled += leased.count
            }
            let elapsed = ContinuousClock.now - clock
            print("events-bench lease(10 triggers × 10) + settle \(concurrent ? "100 concurrently" : "one after another"): \(settled) in \(elapsed), "
                + "\(Int(Double(settled) / EventRowCoding.seconds(elapsed)))/s")
        }
    }
}
