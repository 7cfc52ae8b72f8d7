import Foundation
import GatehouseTesting
import Testing

@Suite("CUSTOM AuthorizationPolicy with a live external authorizer", .serialized)
struct CustomAuthorizationTests {
    static func config(authorizerPort: Int) -> String {
        fixtureFunction(name: "fn") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              extensionProviders:
              - name: ext-authz
                envoyExtAuthzHttp:
                  service: 127.0.0.1
                  port: \(authorizerPort)
                  pathPrefix: /check
                  timeout: 2s
                  statusOnError: "503"
                  includeRequestHeadersInCheck: ["x-ext-authz"]
                  headersToUpstreamOnAllow: ["x-ext-authz-check-result", "x-ext-authz-path"]
                  headersToDownstreamOnDeny: ["x-ext-authz-check-result"]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ext, namespace: default}
            spec:
              action: CUSTOM
              provider: {name: ext-authz}
              rules:
              - to: [{operation: {paths: ["/protected*"]}}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: no-secrets, namespace: default}
            spec:
              action: DENY
              rules:
              - to: [{operation: {paths: ["/protected/secret"]}}]

            """
    }

    @Test("The authorizer decides what the CUSTOM policy matches: its allow passes headers on, its denial reaches the caller, DENY still applies after it")
    func decides() async throws {
        let authorizer = try await ExtAuthzFixture.start()
        defer { authorizer.stop() }
        try await withGatehouse(Self.config(authorizerPort: authorizer.port)) { gatehouse in
            let unmatched = try await gatehouse.request("fn", path: "/public")
            #expect(unmatched.status == 200, "the CUSTOM rule does not match: the authorizer is not asked")
            #expect((unmatched.json["headers"] as? [String: String])?["x-ext-authz-check-result"] == nil)

            let allowed = try await gatehouse.request("fn", path: "/protected/report?q=1", headers: [("x-ext-authz", "allow")])
            #expect(allowed.status == 200)
            let seen = try #require(allowed.json["headers"] as? [String: String])
            #expect(seen["x-ext-authz-check-result"] == "allowed")
            #expect(seen["x-ext-authz-path"] == "/check/protected/report?q=1", "the check carries the path prefix and the request's path")

            let denied = try await gatehouse.request("fn", path: "/protected/report")
            #expect(denied.status == 403)
            #expect(denied.body == "denied by ext_authz for /check/protected/report", "the authorizer's body reaches the caller")
            #expect(denied.headers.first(name: "x-ext-authz-check-result") == "denied")
            let requestId = try #require(denied.headers.first(name: "x-request-id"))
            let line = try await gatehouse.accessLogLine(requestId: requestId)
            #expect(line["response_flags"] as? String == "UAEX")
            #expect(line["authz_policy"] as? String == "default/ext")
            #expect(line["response_code_details"] as? String == "ext_authz_denied")

            // Envoy's rules: a redirect is a denial passed on (never followed); a 5xx is an error
            // (statusOnError, nothing of it reaches the caller); a long denial body is cut.
            let connection = try RawConnection(url: gatehouse.ingress)  // a client that does not follow redirects
            defer { connection.close() }
            try connection.send("GET /protected/x HTTP/1.1\r\nHost: fn.default.localhost\r\nx-ext-authz: redirect\r\n\r\n")
            let redirect = try await connection.readResponse()
            #expect(redirect.status == 302)
            #expect(redirect.headers.first { $0.0.lowercased() == "location" }?.1 == "http://127.0.0.1:9/login", "Location always goes with a denial")
            #expect(!redirect.headers.contains { $0.0.lowercased() == "x-internal" }, "only the listed headers")
            let failing = try await gatehouse.request("fn", path: "/protected/x", headers: [("x-ext-authz", "fail")])
            #expect(failing.status == 503)
            #expect(failing.errorCode == "external_authorizer_error")
            #expect(!failing.body.contains("internal details"))
            let big = try await gatehouse.request("fn", path: "/protected/x", headers: [("x-ext-authz", "big")])
            #expect(big.status == 403)
            #expect(big.body.utf8.count == 64 * 1024)

            let secret = try await gatehouse.request("fn", path: "/protected/secret", headers: [("x-ext-authz", "allow")])
            #expect(secret.status == 403, "CUSTOM allowed, then the DENY policy denies")
            #expect(secret.errorCode == "denied_by_policy")

            authorizer.stop()
            let unreachable = try await gatehouse.request("fn", path: "/protected/report", headers: [("x-ext-authz", "allow")])
            #expect(unreachable.status == 503, "statusOnError when the authorizer cannot be asked")
            #expect(unreachable.errorCode == "external_authorizer_error")
            #expect(try await gatehouse.request("fn", path: "/public").status == 200)
        }
    }

    @Test("A CUSTOM policy naming an undeclared provider is refused with file, line and the providers that exist")
    func unknownProvider() async throws {
        let config = Self.config(authorizerPort: 9).replacingOccurrences(of: "provider: {name: ext-authz}", with: "provider: {name: ext-auth}")
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("config.yaml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let result = try await RunningGatehouse.runCLI(["validate", "-f", file.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("config.yaml:"), "\(result.stderr)")
        #expect(result.stderr.contains("spec.provider.name"))
        #expect(result.stderr.contains(#"did you mean "ext-authz"?"#))
    }
}
