import Foundation
import GatehouseTesting
import Testing

@Suite("VirtualService routes on the ingress and the mesh listener", .serialized)
struct VirtualServiceTests {
    static let config = fixtureFunction(name: "hello") + "---\n" + fixtureFunction(name: "canary") + """
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: hello, namespace: default}
        spec:
          hosts: [hello, api.example.com]
          gateways: [public]
          http:
          - name: testers
            match: [{headers: {x-canary: {exact: "1"}}}]
            route: [{destination: {host: canary}}]
          - name: renamed
            match: [{uri: {prefix: /old/}}]
            rewrite: {uri: /new/}
            headers: {response: {set: {x-route: renamed}}}
            route: [{destination: {host: hello}}]
          - name: slow
            match: [{uri: {prefix: /sleep}}]
            timeout: 500ms
            route: [{destination: {host: hello}}]
          - match: [{uri: {exact: /moved}}]
            redirect: {uri: /here}
          - match: [{uri: {exact: /down}}]
            directResponse: {status: 503, body: {string: "down for maintenance"}}
          - name: split
            match: [{uri: {prefix: /}, authority: {exact: hello.default.localhost}}]
            route:
            - {destination: {host: hello}, weight: 80}
            - {destination: {host: canary}, weight: 20}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: mesh-callers, namespace: default}
        spec:
          hosts: [hello]
          http: [{route: [{destination: {host: canary}}]}]

        """

    func service(_ response: RunningGatehouse.Response) -> String? {
        (response.json["env"] as? [String: Any])?["K_SERVICE"] as? String
    }

    @Test("Matches, weights, rewrite, redirect, direct response, route timeout, 404 NR, and mesh-only routes")
    func routes() async throws {
        try await withGatehouse(Self.config) { gatehouse in
            let tester = try await gatehouse.request("hello", headers: [("x-canary", "1")])
            #expect(service(tester) == "canary", "\(tester.body)")

            let renamed = try await gatehouse.request("hello", path: "/old/page?x=1")
            #expect(renamed.json["path"] as? String == "/new/page?x=1")
            #expect(renamed.headers.first(name: "x-route") == "renamed")
            let line = try await gatehouse.accessLogLine(requestId: try #require(renamed.headers.first(name: "x-request-id")))
            #expect(line["route_name"] as? String == "renamed")

            let slow = try await gatehouse.request("hello", path: "/sleep?ms=3000")
            #expect(slow.status == 504, "the route's 500ms, not the function's 300s")

            let moved = try await gatehouse.request("hello", path: "/moved")
            #expect(moved.status == 301)
            #expect(moved.headers.first(name: "location")?.hasSuffix("/here") == true)
            let down = try await gatehouse.request("hello", path: "/down")
            #expect(down.status == 503 && down.body == "down for maintenance")
            #expect(down.headers.first(name: "x-request-id") != nil)

            var canary = 0
            let total = 300
            for _ in 0..<total where service(try await gatehouse.request("hello")) == "canary" { canary += 1 }
            #expect(abs(Double(canary) / Double(total) - 0.20) < 0.08, "\(canary) of \(total) to the canary")

            // api.example.com is covered by the VirtualService, but only `split` checks the authority.
            let other = try await RunningGatehouse.send(url: gatehouse.ingress + "/x", host: "api.example.com", method: .GET, headers: [], body: nil)
            #expect(other.status == 404)
            let otherLine = try await gatehouse.accessLogLine(requestId: try #require(other.headers.first(name: "x-request-id")))
            #expect(otherLine["response_flags"] as? String == "NR")

            // The VirtualService without gateways routes mesh callers only.
            let svid = try await gatehouse.issueSVID("spiffe://cluster.local/ns/default/sa/caller")
            let meshed = try await MeshClient.request(
                gatehouse.mesh, host: "hello.default.\(gatehouse.domain)", path: "/",
                certificate: svid.appendingPathComponent("cert.pem"), key: svid.appendingPathComponent("key.pem"),
                bundle: gatehouse.stateDirectory.appendingPathComponent("ca/root-cert.pem"))
            #expect(service(meshed) == "canary", "\(meshed.body)")

            let explained = try await gatehouse.cli(["explain", "hello", "--path", "/old/x", "-H", "x-canary: 0"])
            #expect(explained.stdout.contains("Route:     testers did not fit: header x-canary is not exact \"1\""), "\(explained.stdout)")
            #expect(explained.stdout.contains("Route:     renamed → default/hello (100%), path rewritten to /new/x"), "\(explained.stdout)")
        }
    }
}
