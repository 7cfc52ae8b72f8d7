import Foundation
import GatehouseTesting
import Testing

@Suite("Cold start, warm instances and the Knative contract", .serialized)
struct ColdStartTests {
    @Test("The first request starts the function; the next one reuses the warm instance and its connection")
    func coldThenWarm() async throws {
        // One event loop, so both requests use the same per-loop pool of upstream connections.
        try await withGatehouse(fixtureFunction(name: "hello"), arguments: ["--event-loops", "1"]) { gatehouse in
            let first = try await gatehouse.request("hello")
            #expect(first.status == 200)
            let second = try await gatehouse.request("hello")
            #expect(second.status == 200)
            #expect(first.pid != nil && first.pid == second.pid)
            let firstPort = try #require(first.json["peer_port"] as? Int)
            #expect(second.json["peer_port"] as? Int == firstPort, "the kept-alive upstream connection is reused")

            let firstLine = try await gatehouse.accessLogLine(requestId: try #require(first.headers.first(name: "x-request-id")))
            let secondLine = try await gatehouse.accessLogLine(requestId: try #require(second.headers.first(name: "x-request-id")))
            #expect(firstLine["cold_start"] as? Bool == true)
            #expect(secondLine["cold_start"] as? Bool == false)
            #expect(firstLine["response_code"] as? Int == 200)
            #expect(firstLine["authority"] as? String == "hello.default.localhost")

            let metrics = try await gatehouse.metrics()
            #expect(sample(metrics, "gatehouse_function_cold_starts_total", containing: ["function=\"hello\""]) == 1)
            #expect(sample(metrics, "gatehouse_function_cold_start_duration_seconds_count", containing: ["function=\"hello\""]) == 1)
            #expect(sample(metrics, "istio_requests_total", containing: ["destination_service=\"hello.default.svc.cluster.local\"", "response_code=\"200\""]) == 2)
        }
    }

    @Test("The function gets the Knative environment, forwarded headers, the request id, and stdin at EOF")
    func knativeContract() async throws {
        let config = fixtureFunction(
            name: "contract", namespace: "team-a",
            spec: "functionTarget: handle\nsignatureType: http", env: [("FIXTURE_CUSTOM", "from-yaml")])
        try await withGatehouse(config) { gatehouse in
            let response = try await gatehouse.request(
                "contract.team-a",
                headers: [("x-forwarded-for", "203.0.113.7"), ("x-request-id", "caller-chosen-id"), ("x-custom", "kept"),
                          ("connection", "keep-alive, x-hop"), ("x-hop", "dropped")])
            #expect(response.status == 200)
            #expect(response.headers.first(name: "x-request-id") == "caller-chosen-id")
            let env = try #require(response.json["env"] as? [String: String?])
            let port = env["PORT"] ?? nil
            #expect(port.flatMap { Int($0) } != nil)
            #expect(env["K_SERVICE"] == "contract")
            #expect(env["K_REVISION"] == "contract-00001")
            #expect(env["K_CONFIGURATION"] == "contract")
            #expect(env["FUNCTION_TARGET"] == "handle")
            #expect(env["FUNCTION_SIGNATURE_TYPE"] == "http")
            #expect(env["FIXTURE_CUSTOM"] == "from-yaml")
            let headers = try #require(response.json["headers"] as? [String: String])
            #expect(headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1")
            #expect(headers["x-forwarded-proto"] == "http")
            #expect(headers["x-forwarded-host"] == "contract.team-a.localhost")
            #expect(headers["forwarded"] == "for=127.0.0.1;host=\"contract.team-a.localhost\";proto=http")
            #expect(headers["x-request-id"] == "caller-chosen-id")
            #expect(headers["x-custom"] == "kept")
            #expect(headers["x-hop"] == nil, "headers named in Connection are hop-by-hop")
            #expect(response.json["stdin_eof"] as? Bool == true)
        }
    }

    @Test("An upload to a function slower than its caller streams through without being held in memory")
    func uploadBackPressure() async throws {
        try await withGatehouse(fixtureFunction(name: "sink")) { gatehouse in
            _ = try await gatehouse.request("sink")
            let before = gatehouse.peakResidentBytes
            let body = [UInt8](repeating: 42, count: 24 << 20)
            let response = try await gatehouse.request("sink", path: "/echo?slow=1", method: .POST, body: body)
            #expect(response.status == 200)
            #expect(response.json["length"] as? Int == body.count)
            let growth = gatehouse.peakResidentBytes - before
            #expect(growth < 12 << 20, "peak memory grew by \(growth >> 20) MiB for a 24 MiB upload")
        }
    }

    @Test("A request body reaches the function whole and the answer comes back")
    func bodiesStream() async throws {
        try await withGatehouse(fixtureFunction(name: "echo")) { gatehouse in
            let body = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let response = try await gatehouse.request("echo", path: "/echo", method: .POST, body: body)
            #expect(response.status == 200)
            #expect(response.json["length"] as? Int == body.count)
            let line = try await gatehouse.accessLogLine(requestId: try #require(response.headers.first(name: "x-request-id")))
            #expect(line["bytes_received"] as? Int == body.count)
        }
    }
}
