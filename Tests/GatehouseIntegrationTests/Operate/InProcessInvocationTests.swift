import Crypto
import Foundation
import GatehouseTesting
import Testing

/// A function invoked without a socket (the seam events and schedules use) goes through the same
/// pipeline, pools, metrics and access log as a request from the ingress.
@Suite("In-process invocation")
struct InProcessInvocationTests {
    static let config = fixtureFunction(name: "fn") + """
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-delete, namespace: default}
        spec:
          selector: {matchLabels: {}}
          action: DENY
          rules:
          - to: [{operation: {methods: [DELETE]}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: fn, namespace: default}
        spec:
          hosts: [fn]
          gateways: [gatehouse]
          http:
          - match: [{uri: {prefix: /old}}]
            rewrite: {uri: /new}
            headers: {response: {set: {x-routed: "yes"}}}
            route: [{destination: {host: fn}}]
          - match: [{uri: {prefix: /gone}}]
            directResponse: {status: 410, body: {string: "gone"}}
          - route: [{destination: {host: fn}}]

        """

    @Test("The function gets the request the ingress would have given it; the access log and metrics count it")
    func reachesTheFunction() async throws {
        try await withGatehouse(Self.config) { gatehouse in
            let result = try await gatehouse.cli([
                "invoke", "fn", "--in-process", "--path", "/old/x?y=1", "-H", "x-request-id: local-1", "-v",
                "-H", "x-forwarded-client-cert: By=spiffe://cluster.local/ns/default/sa/fn;URI=spiffe://cluster.local/ns/admin/sa/root",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(seen["path"] as? String == "/new/x?y=1", "the route's rewrite ran")
            let headers = seen["headers"] as? [String: String] ?? [:]
            #expect(headers["x-request-id"] == "local-1")
            #expect(headers["x-gatehouse-hops"] == "1", "the hop limit stage ran")
            #expect(headers["x-forwarded-client-cert"] == nil, "only Gatehouse says who a verified peer is, as on the ingress")
            #expect(result.stderr.contains("x-routed: yes"), "the response phase ran: \(result.stderr)")

            let line = try await gatehouse.accessLogLine(requestId: "local-1")
            #expect(line["response_code"] as? Int == 200)
            #expect(line["path"] as? String == "/old/x?y=1", "the path before the rewrite, as for any request")
            #expect(line["route_name"] as? String == "default/fn.0")
            let metrics = try await eventually("the request to be counted") {
                let text = try await gatehouse.metrics()
                return sample(text, "istio_requests_total", containing: ["destination_workload=\"fn\"", "response_code=\"200\""]) == 1 ? text : nil
            }
            #expect(!metrics.isEmpty)

            let body = Array(repeating: UInt8(ascii: "z"), count: 300_000)
            let file = gatehouse.directory.appendingPathComponent("body.bin")
            try Data(body).write(to: file)
            let posted = try await gatehouse.cli(["invoke", "fn", "--in-process", "--path", "/echo", "--data-file", file.path])
            let echoed = try #require(try JSONSerialization.jsonObject(with: Data(posted.stdout.utf8)) as? [String: Any])
            #expect(echoed["length"] as? Int == body.count)
            #expect(echoed["sha256"] as? String == SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined())
        }
    }

    @Test("Policies and gateway-made replies apply as they do on the wire")
    func samePolicies() async throws {
        try await withGatehouse(Self.config) { gatehouse in
            let denied = try await gatehouse.cli(["invoke", "fn", "--in-process", "-m", "DELETE"])
            #expect(denied.status == 1)
            #expect(denied.stdout.contains("\"code\":\"denied_by_policy\""), "\(denied.stdout)")
            let live = try await gatehouse.request("fn", method: .DELETE)
            #expect(live.status == 403 && live.errorCode == "denied_by_policy")

            let gone = try await gatehouse.cli(["invoke", "fn", "--in-process", "--path", "/gone"])
            #expect(gone.status == 1 && gone.stdout == "gone")
            let unknown = try await gatehouse.cli(["invoke", "nobody", "--in-process"])
            #expect(unknown.status == 1 && unknown.stdout.contains("route_not_found"))
            let fragment = try await gatehouse.cli(["invoke", "fn", "--in-process", "--path", "/a#b"])
            #expect(fragment.status != 0 && fragment.stderr.contains("refused before any stage"), "\(fragment.stderr)")
        }
    }
}
