import Foundation
import GatehouseTesting
import Testing

@Suite("AuthorizationPolicy on the request path", .serialized)
struct AuthorizationTests {
    static let denyDelete = """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-delete, namespace: default}
        spec:
          action: DENY
          rules:
          - to: [{operation: {methods: ["DELETE"]}}]
          - to: [{operation: {paths: ["/admin*"]}}]

        """

    @Test("A DENY policy refuses with 403, a caller-safe code and the request id; the access log names policy and rule")
    func denied() async throws {
        try await withGatehouse(fixtureFunction(name: "fn") + "---\n" + Self.denyDelete) { gatehouse in
            #expect(try await gatehouse.request("fn").status == 200)
            let refused = try await gatehouse.request("fn", path: "/admin/users")
            #expect(refused.status == 403)
            #expect(refused.errorCode == "denied_by_policy")
            let requestId = try #require(refused.headers.first(name: "x-request-id"))
            #expect(refused.json["requestId"] as? String == requestId)
            #expect(!refused.body.contains("no-delete") && !refused.body.contains("admin*"), "no policy contents reach the caller")

            let line = try await gatehouse.accessLogLine(requestId: requestId)
            #expect(line["response_code"] as? Int == 403)
            #expect(line["authz_decision"] as? String == "deny")
            #expect(line["authz_policy"] as? String == "default/no-delete")
            #expect(line["authz_rule"] as? Int == 1)
            #expect(line["response_code_details"] as? String == "rbac_access_denied_matched_policy[ns[default]-policy[no-delete]-rule[1]]")
            #expect((line["authz_reason"] as? String)?.contains(#"to[0].operation.paths ["/admin*"]"#) == true)

            let delete = try await gatehouse.request("fn", method: .DELETE)
            #expect(delete.status == 403)
        }
    }

    @Test("The function receives the normalized path, and dotted or escaped paths cannot get around a policy")
    func normalization() async throws {
        try await withGatehouse(fixtureFunction(name: "fn") + "---\n" + Self.denyDelete) { gatehouse in
            _ = try await gatehouse.request("fn")
            let connection = try RawConnection(url: gatehouse.ingress)
            defer { connection.close() }
            for target in ["/public/../admin", "/%61dmin", "/public/%2e%2e/admin", "/x/./../admin/"] {
                try connection.send("GET \(target) HTTP/1.1\r\nHost: fn.default.localhost\r\n\r\n")
                let response = try await connection.readResponse()
                #expect(response.status == 403, "\(target) must be refused")
            }
            // The absolute form is turned into origin-form first: it cannot sidestep a path policy.
            try connection.send("GET http://fn.default.localhost/admin HTTP/1.1\r\nHost: fn.default.localhost\r\n\r\n")
            #expect(try await connection.readResponse().status == 403)
            try connection.send("GET http://fn.default.localhost/docs?y=2 HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n")
            let absolute = try await connection.readResponse()
            #expect(absolute.status == 200, "routed by the target's authority")
            #expect(absolute.body.contains(#""path": "/docs?y=2""#), "\(absolute.body)")
            try connection.send("GET /docs/./guide/../index.html?x=1 HTTP/1.1\r\nHost: fn.default.localhost\r\n\r\n")
            let allowed = try await connection.readResponse()
            #expect(allowed.status == 200)
            #expect(allowed.body.contains(#""path": "/docs/index.html?x=1""#), "\(allowed.body)")
        }
    }

    @Test("remoteIpBlocks see the original client behind the Mesh's numTrustedProxies")
    func trustedProxies() async throws {
        let config = """
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec: {numTrustedProxies: 1}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: office, namespace: default}
            spec:
              rules: [{from: [{source: {remoteIpBlocks: ["203.0.113.0/24"]}}]}]
            ---

            """ + fixtureFunction(name: "fn")
        try await withGatehouse(config) { gatehouse in
            let fromOffice = try await gatehouse.request("fn", headers: [("x-forwarded-for", "198.51.100.7, 203.0.113.9")])
            #expect(fromOffice.status == 200)
            let spoofed = try await gatehouse.request("fn", headers: [("x-forwarded-for", "203.0.113.9, 198.51.100.7")])
            #expect(spoofed.status == 403, "only the entry the trusted proxy added counts")
            #expect(try await gatehouse.request("fn").status == 403, "no header: the peer, 127.0.0.1")
        }
    }

    @Test("A request target that is neither origin- nor absolute-form is refused with 400")
    func badTarget() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let connection = try RawConnection(url: gatehouse.ingress)
            defer { connection.close() }
            try connection.send("GET admin HTTP/1.1\r\nHost: fn.default.localhost\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 400)
        }
    }

    @Test("ALLOW policies: only what they match gets through; applying and deleting a policy takes effect at once")
    func allowLive() async throws {
        try await withGatehouse(fixtureFunction(name: "fn") + "---\n" + fixtureFunction(name: "open")) { gatehouse in
            #expect(try await gatehouse.request("fn").status == 200)
            let policy = """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: team-only, namespace: default}
                spec:
                  targetRefs: [{kind: Service, name: fn}]
                  rules:
                  - when: [{key: "request.headers[x-team]", values: ["billing"]}]
                """
            #expect(try await gatehouse.applyThroughAPI(file: "policy.yaml", policy).status == 200)
            let refused = try await gatehouse.request("fn")
            #expect(refused.status == 403)
            #expect(refused.errorCode == "not_allowed_by_policy")
            #expect(try await gatehouse.request("fn", headers: [("x-team", "billing")]).status == 200)
            #expect(try await gatehouse.request("open").status == 200, "targetRefs limit the policy to fn")

            #expect(try await gatehouse.cli(["delete", "ap", "team-only"]).status == 0)
            #expect(try await gatehouse.request("fn").status == 200)
        }
    }
}
