import Foundation
import GatehouseTesting
import Testing

@Suite("Rate limits, per-caller caps and the hop limit", .serialized)
struct ProtectionTests {
    @Test("A token bucket: 429 with x-ratelimit-* and Retry-After after N (refills: TokenBucketTests, with a clock)")
    func tokenBucket() async throws {
        let config = fixtureFunction(name: "fn") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: RateLimitPolicy
            metadata: {name: per-caller, namespace: default}
            spec:
              targetRefs: [{kind: Function, name: fn}]
              perCaller: requestPrincipal
              tokenBucket: {maxTokens: 3, tokensPerFill: 3, fillInterval: 1h}

            """
        try await withGatehouse(config) { gatehouse in
            for remaining in [2, 1, 0] {
                let allowed = try await gatehouse.request("fn")
                #expect(allowed.status == 200)
                #expect(allowed.headers.first(name: "x-ratelimit-remaining") == "\(remaining)")
                #expect(allowed.headers.first(name: "x-ratelimit-limit") == "3")
            }
            let refused = try await gatehouse.request("fn")
            #expect(refused.status == 429 && refused.errorCode == "rate_limited")
            #expect(refused.headers.first(name: "retry-after") != nil)
            #expect(refused.headers.first(name: "x-ratelimit-remaining") == "0")
            let line = try await gatehouse.accessLogLine(requestId: try #require(refused.headers.first(name: "x-request-id")))
            #expect(line["response_flags"] as? String == "RL")
            #expect(Int(refused.headers.first(name: "retry-after") ?? "") ?? 0 > 3000, "the next fill is most of an hour away")
        }
    }

    @Test("A cap on requests in flight per caller keeps one caller from taking every slot")
    func concurrencyPerCaller() async throws {
        let config = fixtureFunction(name: "fn", scaling: "maxInstances: 1, concurrency: 20") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: RateLimitPolicy
            metadata: {name: fair, namespace: default}
            spec:
              selector: {matchLabels: {}}
              perCaller: remoteAddress
              maxConcurrentRequests: 2

            """
        try await withGatehouse(config) { gatehouse in
            _ = try await gatehouse.request("fn")  // warm
            async let first = gatehouse.request("fn", path: gatehouse.held("slots"))
            async let second = gatehouse.request("fn", path: gatehouse.held("slots"))
            try await gatehouse.waitForInFlight("fn", count: 2)  // both hold their caller's slots
            let third = try await gatehouse.request("fn")
            gatehouse.release("slots")
            #expect(third.status == 429 && third.errorCode == "concurrency_limited", "\(third.body)")
            #expect(try await first.status == 200)
            #expect(try await second.status == 200)
            #expect(try await gatehouse.request("fn").status == 200, "the slots came back when those ended")
        }
    }

    @Test("A loop of calls ends at Mesh.spec.maxHops with 508, not a storm")
    func hopLimit() async throws {
        let config = fixtureFunction(name: "loop") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec: {maxHops: 4}

            """
        try await withGatehouse(config) { gatehouse in
            let response = try await gatehouse.request("loop", path: "/loop")
            #expect(response.status == 508, "\(response.body)")
            #expect(response.body.contains("hop_limit_exceeded"), "the innermost refusal is passed back out")
            // Four hops served, the fifth arrival refused by Gatehouse itself (no upstream).
            let lines = try await eventually("five /loop lines in the access log") {
                let lines = gatehouse.accessLog.filter { ($0["path"] as? String) == "/loop" }
                return lines.count >= 5 ? lines : nil
            }
            #expect(lines.count == 5)
            #expect(lines.filter { ($0["upstream_host"] as? String) == nil }.count == 1, "\(lines)")
        }
    }
}
