import Foundation
import GatehouseTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Concurrency, queueing and scaling", .serialized)
struct ScalingTests {
    @Test("With concurrency 1, a second concurrent request gets a second instance")
    func scaleOut() async throws {
        try await withGatehouse(fixtureFunction(name: "busy", scaling: "concurrency: 1, maxInstances: 2")) { gatehouse in
            // The first holds its instance (concurrency 1) until the second is answered; the second
            // is sent once the first is in flight, so it can only be served by a new one.
            async let first = gatehouse.request("busy", path: gatehouse.held("first"))
            try await gatehouse.waitForInFlight("busy")
            let b = try await gatehouse.request("busy", path: "/sleep?ms=10")
            gatehouse.release("first")
            let a = try await first
            #expect(a.status == 200 && b.status == 200)
            #expect(a.pid != nil && b.pid != nil && a.pid != b.pid)
            let metrics = try await gatehouse.metrics()
            #expect(sample(metrics, "gatehouse_function_cold_starts_total", containing: ["function=\"busy\""]) == 2)
        }
    }

    @Test("Past maxQueue waiting requests, the next one gets 503 with Retry-After and flag UO")
    func queueBound() async throws {
        let config = fixtureFunction(name: "narrow", scaling: "concurrency: 1, maxInstances: 1, maxQueue: 1")
        try await withGatehouse(config) { gatehouse in
            #expect(try await gatehouse.request("narrow").status == 200)  // warm
            async let busy = gatehouse.request("narrow", path: gatehouse.held("busy"))
            try await gatehouse.waitForInFlight("narrow")
            async let queued = gatehouse.request("narrow", path: "/sleep?ms=10")
            try await gatehouse.waitForQueued("narrow")
            let refused = try await gatehouse.request("narrow", path: "/sleep?ms=10")
            gatehouse.release("busy")
            let served = try await [busy, queued]
            #expect(served.map(\.status) == [200, 200])
            #expect(refused.status == 503)
            #expect(refused.errorCode == "queue_full")
            #expect(refused.headers.first(name: "retry-after") != nil)
            let line = try await gatehouse.accessLogLine(requestId: try #require(refused.headers.first(name: "x-request-id")))
            #expect(line["response_flags"] as? String == "UO")
        }
    }

    @Test("An idle instance is stopped after idleTimeout, down to zero")
    func idleScaleDown() async throws {
        try await withGatehouse(fixtureFunction(name: "sleepy", spec: "idleTimeout: \"1s\"")) { gatehouse in
            let response = try await gatehouse.request("sleepy")
            // (Not checked alive first: on a loaded machine the second it idles may already be over.)
            let pid = try #require(response.pid)
            _ = try await eventually("the idle instance to stop") { processIsAlive(pid) ? nil : true }
            let metrics = try await eventually("the instances gauge to reach 0") {
                let text = try await gatehouse.metrics()
                return sample(text, "gatehouse_function_instances", containing: ["function=\"sleepy\""]) == 0 ? text : nil
            }
            #expect(sample(metrics, "gatehouse_function_inflight_requests", containing: ["function=\"sleepy\""]) == 0)
            // Scaled to zero, it still serves: the next request is a new cold start.
            let again = try await gatehouse.request("sleepy")
            #expect(again.status == 200 && again.pid != pid)
        }
    }

    @Test("minInstances keeps an instance warm before any request")
    func minInstances() async throws {
        try await withGatehouse(fixtureFunction(name: "warm", scaling: "minInstances: 1")) { gatehouse in
            _ = try await eventually("the warm instance to start") {
                let text = try await gatehouse.metrics()
                return sample(text, "gatehouse_function_cold_starts_total", containing: ["function=\"warm\""]) == 1 ? true : nil
            }
            let response = try await gatehouse.request("warm")
            let line = try await gatehouse.accessLogLine(requestId: try #require(response.headers.first(name: "x-request-id")))
            #expect(line["cold_start"] as? Bool == false)
        }
    }
}
