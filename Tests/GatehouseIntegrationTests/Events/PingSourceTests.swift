import Foundation
import GatehouseTesting
import Testing

/// A PingSource fires once per scheduled minute — also across `kill -9` and a restart in the same
/// minute — with Knative's event shape.
@Suite struct PingSourceTests {
    static func config(records: URL) -> String {
        """
        apiVersion: sources.knative.dev/v1
        kind: PingSource
        metadata: {name: every-minute, namespace: default}
        spec:
          schedule: "* * * * *"
          contentType: application/json
          data: '{"message": "tick"}'
          sink:
            ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: clock}
        ---
        \(CloudEventsFixture.function(name: "clock", records: records))
        """
    }

    @Test func aScheduleFiresOncePerMinuteAcrossACrash() async throws {
        try await CloudEventsFixture.ensureInstalled()
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let records = try CloudEventsFixture.write(into: directory)
        let first = try await RunningGatehouse.start(config: Self.config(records: records), directory: directory)
        let ticks = { CloudEventsFixture.received(by: "clock", in: records).compactMap { $0["attributes"] as? [String: Any] } }
        let tick: [String: Any]
        do {
            tick = try await eventually("the first tick", timeout: .seconds(90)) { ticks().first }
        } catch {
            print(first.stderr)
            try? await first.kill()
            throw error
        }
        #expect(tick["type"] as? String == "dev.knative.sources.ping")
        #expect(tick["source"] as? String == "/apis/v1/namespaces/default/pingsources/every-minute")
        #expect((CloudEventsFixture.received(by: "clock", in: records).first?["data"] as? [String: Any])?["message"] as? String == "tick")
        // Killed at once and restarted: the minute that fired does not fire again.
        try await first.kill()
        let second = try await first.restart()
        do {
            _ = try await eventually("the next minute's tick", timeout: .seconds(90)) {
                Set(ticks().compactMap { $0["time"] as? String }).count >= 2 ? true : nil
            }
            // One event per minute. (Its delivery may repeat — at least once — if the kill came
            // between the function's answer and the delivery's settling: the same event id again.)
            var ids: [String: Set<String>] = [:]
            for tick in ticks() { ids[tick["time"] as? String ?? "", default: []].insert(tick["id"] as? String ?? "") }
            #expect(ids.values.allSatisfy { $0.count == 1 }, "a minute fired twice: \(ids)")
        } catch {
            print(second.stderr)
            _ = try? await second.stop()
            throw error
        }
        try await second.stop()
        second.removeDirectory()
    }
}
