import Foundation
import GatehouseTesting
import Testing

/// A RateLimitPolicy's token bucket is the mesh's on PostgreSQL: tokens one node gave out are
/// gone on the others within an exchange interval (250 ms).
extension PostgresMeshSuites {
@Suite("Rate limits shared by the nodes of a PostgreSQL mesh", .serialized)
struct SharedRateLimitTests {
    static let config = fixtureFunction(name: "fn") + """
        ---
        apiVersion: gatehouse.dev/v1
        kind: RateLimitPolicy
        metadata: {name: fn-quota, namespace: default}
        spec:
          targetRefs: [{kind: Function, name: fn}]
          tokenBucket: {maxTokens: 4, tokensPerFill: 4, fillInterval: 1h}
        """

    /// The tokens node `gatehouse`'s live bucket holds for fn, as `explain` reports without spending one.
    static func tokens(_ gatehouse: RunningGatehouse) async throws -> Int? {
        let explained = try await gatehouse.cli(["explain", "fn", "-o", "json"])
        guard explained.status == 0, let range = explained.stdout.range(of: #""tokens"\s*:\s*-?[0-9]+"#, options: .regularExpression) else { return nil }
        return Int(explained.stdout[range].split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "")
    }

    @Test("Tokens spent through one node are gone on the other: its next request is refused with 429, and the other way round")
    func sharedBucket() async throws {
        try await PostgresSharedStoreTests.withTwo(config: Self.config) { first, second, _ in
            #expect(try await Self.tokens(second) == 4)
            for _ in 0..<3 { #expect(try await first.request("fn").status == 200) }
            _ = try await eventually("node two's bucket to show node one's takes", timeout: .seconds(10)) {
                try await Self.tokens(second) == 1 ? true : nil
            }
            #expect(try await second.request("fn").status == 200, "the last token, spent on node two")
            _ = try await eventually("node one's bucket to show node two's take", timeout: .seconds(10)) {
                try await Self.tokens(first) == 0 ? true : nil
            }
            for gatehouse in [first, second] {
                let refused = try await gatehouse.request("fn")
                #expect(refused.status == 429 && refused.json["code"] as? String == "rate_limited", "\(refused.status) \(refused.body)")
            }
        }
    }
}
}
