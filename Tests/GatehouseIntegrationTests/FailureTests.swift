import Foundation
import GatehouseTesting
import Testing

@Suite("Failing functions", .serialized)
struct FailureTests {
    @Test("A crash mid-request gives 502 (UC) and the next request gets a new instance")
    func crashIsReplaced() async throws {
        try await withGatehouse(fixtureFunction(name: "fragile")) { gatehouse in
            let before = try await gatehouse.request("fragile")
            let crashed = try await gatehouse.request("fragile", path: "/crash")
            #expect(crashed.status == 502)
            #expect(crashed.errorCode == "upstream_reset")
            #expect(crashed.json["requestId"] as? String == crashed.headers.first(name: "x-request-id"))
            let line = try await gatehouse.accessLogLine(requestId: try #require(crashed.headers.first(name: "x-request-id")))
            #expect(line["response_flags"] as? String == "UC")
            // A request reset on a kept-alive connection is sent once more on a fresh one, so the
            // crash may have reached a second instance. The next request waits until the pool has
            // seen every crashed instance exit: sent before, it can be leased to a dead one (a 502
            // CI saw once, under load, without this wait).
            try await gatehouse.waitForGauge("gatehouse_function_instances", function: "fragile", toBe: 0)
            let after = try await gatehouse.request("fragile")
            #expect(after.status == 200, "\(after.errorCode ?? "") \(after.body)")
            #expect(after.pid != nil && after.pid != before.pid)
        }
    }

    @Test("An instance that stops accepting connections is replaced, and the request is still served")
    func stopsAccepting() async throws {
        try await withGatehouse(fixtureFunction(name: "deaf")) { gatehouse in
            let first = try await gatehouse.request("deaf")
            let before = try #require(first.pid)
            let port = try #require((first.json["env"] as? [String: Any])?["PORT"] as? String)
            #expect(try await gatehouse.request("deaf", path: "/stop-listening").status == 200)
            _ = try await eventually("the instance to stop listening") {
                (try? RawConnection(url: "http://127.0.0.1:\(port)")) == nil ? true : nil
            }
            let after = try await gatehouse.request("deaf")
            #expect(after.status == 200)
            #expect(after.pid != nil && after.pid != before)
            _ = try await eventually("the deaf instance to be stopped") { processIsAlive(before) ? nil : true }
            #expect(gatehouse.stderr.contains("instance stopped accepting connections"))
        }
    }

    @Test("A kept-alive connection the function drops is retried on a fresh one, for a bodiless idempotent request only")
    func staleConnectionRetry() async throws {
        // One event loop, so every request uses the same per-loop pool of upstream connections.
        try await withGatehouse(fixtureFunction(name: "flaky"), arguments: ["--event-loops", "1"]) { gatehouse in
            #expect(try await gatehouse.request("flaky", path: "/drop-next").status == 200)
            let retried = try await gatehouse.request("flaky")
            #expect(retried.status == 200, "a GET is sent again on a new connection")

            #expect(try await gatehouse.request("flaky", path: "/drop-next").status == 200)
            let post = try await gatehouse.request("flaky", path: "/echo", method: .POST, body: Array("x".utf8))
            #expect(post.status == 502, "a POST with a body is never sent twice")
            #expect(post.errorCode == "upstream_reset")
        }
    }

    @Test("A request past the timeout gets 504 (UT); the function keeps serving")
    func timeout() async throws {
        // The timeout counts from the request's arrival, cold start included: warm up first so the
        // timeout measures the slow response alone.
        try await withGatehouse(fixtureFunction(name: "slow", spec: "timeout: \"2s\"")) { gatehouse in
            _ = try await eventually("the function to be warm") {
                try await gatehouse.request("slow").status == 200 ? true : nil
            }
            let late = try await gatehouse.request("slow", path: "/sleep?ms=10000")
            #expect(late.status == 504)
            #expect(late.errorCode == "upstream_timeout")
            let line = try await gatehouse.accessLogLine(requestId: try #require(late.headers.first(name: "x-request-id")))
            #expect(line["response_flags"] as? String == "UT")
            let next = try await gatehouse.request("slow")
            #expect(next.status == 200, "\(next.body)")

            // A connection's requests share one timeout wake-up (RequestTimer): the deadline of a
            // later request on a kept-alive connection, after fast ones, is kept as well.
            let connection = try RawConnection(url: gatehouse.ingress)
            defer { connection.close() }
            for _ in 0..<3 {
                try connection.send("GET / HTTP/1.1\r\nHost: slow.default.localhost\r\n\r\n")
                #expect(try await connection.readResponse().status == 200)
            }
            try connection.send("GET /sleep?ms=10000 HTTP/1.1\r\nHost: slow.default.localhost\r\n\r\n")
            let timedOut = try await connection.readResponse()
            #expect(timedOut.status == 504)
            #expect(timedOut.body.contains("upstream_timeout"))
        }
    }

    @Test("The timeout also bounds the wait for a cold start")
    func timeoutWhileQueued() async throws {
        let config = fixtureFunction(name: "slowstart", spec: "timeout: \"1s\"", env: [("FIXTURE_START_DELAY_MS", "4000")])
        try await withGatehouse(config) { gatehouse in
            let waited = try await gatehouse.request("slowstart")
            #expect(waited.status == 504)
            let line = try await gatehouse.accessLogLine(requestId: try #require(waited.headers.first(name: "x-request-id")))
            #expect(line["response_flags"] as? String == "UT")
            #expect(line["upstream_host"] is NSNull, "it never reached an instance")
            // The instance keeps starting, and serves once it is ready.
            _ = try await eventually("the instance to be ready") {
                try await gatehouse.request("slowstart").status == 200 ? true : nil
            }
        }
    }

    @Test("A client that leaves mid-request is logged with code 0 and flag DC, and its slot is freed")
    func clientLeaves() async throws {
        let config = fixtureFunction(name: "patient", scaling: "concurrency: 1, maxInstances: 1")
        try await withGatehouse(config) { gatehouse in
            #expect(try await gatehouse.request("patient").status == 200)
            let impatient = try RawConnection(url: gatehouse.ingress)
            try impatient.send("GET /sleep?ms=3000 HTTP/1.1\r\nHost: patient.default.localhost\r\nX-Request-Id: gave-up\r\n\r\n")
            try await gatehouse.waitForInFlight("patient")  // it reached the instance
            impatient.close()
            let line = try await gatehouse.accessLogLine(requestId: "gave-up")
            #expect(line["response_code"] as? Int == 0)
            #expect(line["response_flags"] as? String == "DC")
            // With concurrency 1, the next request is only served if the slot was given back.
            let next = try await gatehouse.request("patient")
            #expect(next.status == 200)
        }
    }

    @Test("A function that exits before listening gets 503 (UH), and the log says why")
    func neverReadyExit() async throws {
        try await withGatehouse(fixtureFunction(name: "broken", env: [("FIXTURE_FAIL_START", "1")])) { gatehouse in
            let response = try await gatehouse.request("broken")
            #expect(response.status == 503)
            #expect(response.errorCode == "function_unavailable")
            #expect(response.headers.first(name: "retry-after") != nil)
            #expect(!response.body.contains("refusing"), "internals stay out of responses")
            let log = try await eventually("the failure in the log") {
                gatehouse.stderr.contains("function failed to start") ? gatehouse.stderr : nil
            }
            #expect(log.contains("exit code 3"))
            #expect(log.contains("refusing to start"))
            // During the backoff the function is refused at once rather than started again.
            let again = try await gatehouse.request("broken")
            #expect(again.status == 503)
        }
    }

    @Test("A function that does not listen within startupTimeout gets 503 and is stopped")
    func neverReadyTimeout() async throws {
        let config = fixtureFunction(name: "stuck", spec: "startupTimeout: \"1s\"", env: [("FIXTURE_START_DELAY_MS", "60000")])
        try await withGatehouse(config) { gatehouse in
            let response = try await gatehouse.request("stuck")
            #expect(response.status == 503)
            #expect(response.errorCode == "function_unavailable")
            let log = try await eventually("the failure in the log") {
                gatehouse.stderr.contains("within 1s") ? gatehouse.stderr : nil
            }
            #expect(log.contains("did not accept connections"))
        }
    }
}
