import Foundation
import GatehouseTesting
import Testing

@Suite("Route retries, per-try timeouts and fault injection against a flaky function", .serialized)
struct ResilienceTests {
    static let config = fixtureFunction(name: "flaky", scaling: "maxInstances: 1") + """
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: flaky, namespace: default}
        spec:
          hosts: [flaky]
          gateways: [public]
          http:
          - name: patient
            match: [{queryParams: {mode: {exact: hang}}}]
            timeout: 1500ms
            retries: {attempts: 5, perTryTimeout: 400ms, retryOn: "5xx,reset"}
            route: [{destination: {host: flaky}}]
          - name: abort-all
            match: [{uri: {prefix: /abort}}]
            fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
            route: [{destination: {host: flaky}}]
          - name: abort-half
            match: [{uri: {prefix: /half}}]
            fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
            route: [{destination: {host: flaky}}]
          - name: slowed
            match: [{uri: {prefix: /sleep}}]
            fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}}
            route: [{destination: {host: flaky}}]
          - name: retried
            retries: {attempts: 3, retryOn: "5xx,reset"}
            route: [{destination: {host: flaky}}]

        """

    func attempts(_ gatehouse: RunningGatehouse, _ response: RunningGatehouse.Response) async throws -> [String: Any] {
        try await gatehouse.accessLogLine(requestId: try #require(response.headers.first(name: "x-request-id")))
    }

    @Test("5xx and resets are retried up to `attempts`; then the last answer is returned with URX")
    func retries() async throws {
        try await withGatehouse(Self.config) { gatehouse in
            let recovered = try await gatehouse.request("flaky", path: "/flaky?key=a&fail=2")
            #expect(recovered.status == 200 && recovered.json["attempt"] as? Int == 3, "\(recovered.body)")
            #expect(try await attempts(gatehouse, recovered)["upstream_request_attempt_count"] as? Int == 3)

            let exhausted = try await gatehouse.request("flaky", path: "/flaky?key=b&fail=9")
            #expect(exhausted.status == 503 && exhausted.json["attempt"] as? Int == 4, "1 + 3 retries: \(exhausted.body)")
            let line = try await attempts(gatehouse, exhausted)
            #expect(line["response_flags"] as? String == "URX", "\(line)")

            let reset = try await gatehouse.request("flaky", path: "/flaky?key=c&fail=1&mode=reset")
            #expect(reset.status == 200 && reset.json["attempt"] as? Int == 2, "\(reset.body)")

            let teapot = try await gatehouse.request("flaky", path: "/flaky?key=d&fail=1&status=418")
            #expect(teapot.status == 418, "a 4xx is not a 5xx: not retried")
        }
    }

    @Test("perTryTimeout abandons a hung attempt; no retry goes past the route's timeout")
    func perTryTimeout() async throws {
        try await withGatehouse(Self.config) { gatehouse in
            // Started first: the route's 1.5 s budget counts from arrival, a cold start included.
            _ = try await gatehouse.request("flaky", path: "/flaky?key=warm")
            let second = try await gatehouse.request("flaky", path: "/flaky?key=e&fail=1&mode=hang")
            #expect(second.status == 200 && second.json["attempt"] as? Int == 2, "\(second.body)")

            let hopeless = try await gatehouse.request("flaky", path: "/flaky?key=f&fail=50&mode=hang")
            #expect(hopeless.status == 504)
            let line = try await attempts(gatehouse, hopeless)
            let made = line["upstream_request_attempt_count"] as? Int ?? 0
            #expect(made >= 2 && made <= 4, "400ms tries within a 1.5s budget: \(made)")
            #expect((line["response_flags"] as? String)?.contains("UT") == true, "\(line)")
        }
    }

    @Test("Fault injection: aborts with the status and FI, delays with DI, each for its percentage")
    func faults() async throws {
        try await withGatehouse(Self.config) { gatehouse in
            let aborted = try await gatehouse.request("flaky", path: "/abort")
            #expect(aborted.status == 418 && aborted.body == "fault filter abort")
            #expect(try await attempts(gatehouse, aborted)["response_flags"] as? String == "FI")

            let delayed = try await gatehouse.request("flaky", path: "/sleep?ms=0")
            #expect(delayed.status == 200)
            #expect(try await attempts(gatehouse, delayed)["response_flags"] as? String == "DI")

            var refused = 0
            for _ in 0..<200 where try await gatehouse.request("flaky", path: "/half").status == 503 { refused += 1 }
            #expect(abs(Double(refused) / 200 - 0.5) < 0.12, "\(refused) of 200 aborted")
        }
    }
}
