import Foundation
import GatehouseTesting
import Testing

@Suite("Mirrors and DestinationRule connection pools", .serialized)
struct MirrorAndPoolTests {
    @Test("Each mirror gets a copy (Host ending in -shadow); their failures never reach the caller")
    func mirror() async throws {
        let config = fixtureFunction(name: "hello") + "---\n" + fixtureFunction(name: "shadow") + "---\n" + fixtureFunction(name: "audit") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: hello, namespace: default}
            spec:
              hosts: [hello]
              gateways: [public]
              http:
              - mirrors: [{destination: {host: shadow}, percentage: {value: 100}}, {destination: {host: audit}}]
                route: [{destination: {host: hello}}]

            """
        try await withGatehouse(config) { gatehouse in
            let response = try await gatehouse.request("hello", path: "/copied?n=1")
            #expect(response.status == 200 && response.json["path"] as? String == "/copied?n=1")
            for mirror in ["shadow", "audit"] {
                _ = try await eventually("\(mirror) logged the copy") {
                    let logs = try await gatehouse.cli(["logs", mirror])
                    return logs.stdout.contains("fixture: GET /copied?n=1 (host hello.default.\(gatehouse.domain)-shadow)") ? true : nil
                }
            }
            // The copy crashes the shadow's instance; the caller is answered by the real function.
            let crashing = try await gatehouse.request("hello", path: "/crash")
            #expect(crashing.status == 502, "the real function crashed too: the caller sees its own answer only")
            // Once Gatehouse has seen the real function's instance go (a request sent while the
            // process is still dying may be accepted by its socket and then reset: 502, rightly).
            _ = try await eventually("hello's crashed instance to be seen gone") {
                gatehouse.stderr.split(separator: "\n").contains { $0.contains("function=default/hello ") && $0.contains("instance exited") } ? true : nil
            }
            let fine = try await gatehouse.request("hello", path: "/sleep?ms=10")
            #expect(fine.status == 200)
            let line = try await gatehouse.accessLogLine(requestId: try #require(fine.headers.first(name: "x-request-id")))
            #expect(line["response_flags"] as? String == "-")
        }
    }

    @Test("connectionPool limits tighten the function's: a request past them gets 503 UO")
    func poolOverflow() async throws {
        let config = fixtureFunction(name: "fn", scaling: "maxInstances: 1, concurrency: 10, maxQueue: 10") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: fn, namespace: default}
            spec:
              host: fn
              trafficPolicy:
                connectionPool:
                  tcp: {maxConnections: 1}
                  http: {http1MaxPendingRequests: 1}

            """
        try await withGatehouse(config) { gatehouse in
            _ = try await gatehouse.request("fn")  // warm
            // Held until the overflow is answered: the second request is queued behind it however loaded the machine is.
            async let busy = gatehouse.request("fn", path: gatehouse.held("busy"))
            try await gatehouse.waitForInFlight("fn")
            async let queued = gatehouse.request("fn", path: "/sleep?ms=10")
            try await gatehouse.waitForQueued("fn")
            let overflow = try await gatehouse.request("fn")
            gatehouse.release("busy")
            #expect(overflow.status == 503 && overflow.errorCode == "queue_full", "\(overflow.body)")
            let line = try await gatehouse.accessLogLine(requestId: try #require(overflow.headers.first(name: "x-request-id")))
            #expect(line["response_flags"] as? String == "UO")
            #expect(try await busy.status == 200)
            #expect(try await queued.status == 200)
        }
    }
}
