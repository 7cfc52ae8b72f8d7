import Foundation
import GatehouseTesting
import Testing

@Suite("gatehouse explain and gatehouse test")
struct ExplainTests {
    /// The repository's example policies and their test file.
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples")

    var quickstart: String { Self.examples.appendingPathComponent("quickstart").path }
    var policies: String { Self.examples.appendingPathComponent("policies/policies.yaml").path }

    @Test("explain prints the function, the decision and, for every applicable policy, why each rule missed")
    func explainFiles() async throws {
        let result = try await RunningGatehouse.runCLI([
            "explain", "hello", "--method", "POST", "--path", "/x", "-H", "x-team: sales", "-f", quickstart, "-f", policies,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        #expect(text.contains("Function:  default/hello (hello-00001)"))
        #expect(text.contains("Result:    403 denied: no ALLOW policy matched"))
        #expect(text.contains(#"rule 0: to[0].operation.methods: "POST" is not one of ["GET", "HEAD"]"#), "\(text)")
        #expect(text.contains("rule 1: from[0].source.ipBlocks: no source address"), "\(text)")
        #expect(text.contains(#"default/no-admin  DENY  did not match"#))

        let json = try await RunningGatehouse.runCLI([
            "explain", "hello", "--path", "/docs/../admin", "-o", "json", "-f", quickstart, "-f", policies,
        ])
        let explanation = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(explanation["status"] as? Int == 403)
        #expect(explanation["decidingPolicy"] as? String == "default/no-admin")
        #expect(explanation["rule"] as? Int == 0)
        #expect(explanation["normalizedPath"] as? String == "/admin")
    }

    @Test("explain without -f evaluates against the running Gatehouse's applied config")
    func explainRunning() async throws {
        let policy = try String(contentsOfFile: policies, encoding: .utf8)
        let config = fixtureFunction(name: "hello", spec: "") .replacingOccurrences(of: "  namespace: default\n", with: "  namespace: default\n  labels: {app: hello}\n")
        try await withGatehouse(config + "---\n" + policy) { gatehouse in
            let result = try await gatehouse.cli(["explain", "hello", "--method", "DELETE"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("Result:    403 denied"), "\(result.stdout)")
            #expect(result.stdout.contains("functions.yaml:"), "policies are named with the file they were applied from")
            // The live gateway agrees.
            #expect(try await gatehouse.request("hello", method: .DELETE).status == 403)
            #expect(try await gatehouse.request("hello").status == 200)

            // The running config's revisions and the port requests really arrive on.
            let changed = config.replacingOccurrences(of: "spec:\n", with: "spec:\n  timeout: 60s\n")
            #expect(try await gatehouse.applyThroughAPI(file: "functions.yaml", changed).status == 200)
            let json = try await gatehouse.cli(["explain", "hello", "-o", "json"])
            let explanation = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(explanation["revision"] as? String == "hello-00002")
            let port = URL(string: gatehouse.ingress)?.port
            #expect((explanation["request"] as? [String: Any])?["port"] as? Int == port)
        }
    }

    @Test("explain --request-id prints the decision recorded for a real request")
    func explainRecorded() async throws {
        try await withGatehouse(fixtureFunction(name: "fn") + "---\n" + AuthorizationTests.denyDelete) { gatehouse in
            let refused = try await gatehouse.request("fn", method: .DELETE, headers: [("x-request-id", "explain-me-1")])
            #expect(refused.status == 403)
            let result = try await eventually("the decision to be written") {
                let result = try await gatehouse.cli(["explain", "--request-id", "explain-me-1"])
                return result.status == 0 ? result : nil
            }
            #expect(result.stdout.contains("DELETE fn.default.localhost / from 127.0.0.1"), "\(result.stdout)")
            #expect(result.stdout.contains("Result:    denied: DENY policy default/no-delete rule 0 matched"))
            #expect(result.stdout.contains("Decided by: default/no-delete rule 0"))
            let missing = try await gatehouse.cli(["explain", "--request-id", "never-seen"])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("no decision recorded for request never-seen"))
        }
    }

    @Test("test runs the example cases and passes")
    func examplesPass() async throws {
        let result = try await RunningGatehouse.runCLI(["test", Self.examples.appendingPathComponent("policies/tests.yaml").path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("5 passed, 0 failed"))
    }

    @Test("The routing example's cases pass: functions and routes as expected")
    func routingExamplesPass() async throws {
        let result = try await RunningGatehouse.runCLI(["test", Self.examples.appendingPathComponent("routing/tests.yaml").path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("6 passed, 0 failed"), "\(result.stdout)")
    }

    @Test("A routing case that expects another route fails, naming the route taken and why earlier ones missed")
    func routingCaseFails() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases = directory.appendingPathComponent("cases.yaml")
        try """
            config: [\(Self.examples.path)/quickstart/hello.yaml, \(Self.examples.path)/routing/routes.yaml]
            cases:
            - name: wrong expectation
              request: {host: hello.default.localhost, path: /api/v1/x}
              expect: {status: 200, route: canary-split}
            """.write(to: cases, atomically: true, encoding: .utf8)
        let result = try await RunningGatehouse.runCLI(["test", cases.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("route: expected canary-split, got api-v1"), "\(result.stdout)")
        #expect(result.stdout.contains("route testers did not fit: header x-canary is absent"), "\(result.stdout)")
    }

    @Test("The JWT example's cases pass: claims stand in for tokens")
    func jwtExamplesPass() async throws {
        let result = try await RunningGatehouse.runCLI(["test", Self.examples.appendingPathComponent("jwt/tests.yaml").path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("5 passed, 0 failed"))
    }

    @Test("explain verifies a given JWT as the gateway would, and says why a forged one is refused")
    func explainToken() async throws {
        let issuer = try TestIssuer()
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("jwt.yaml")
        try """
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: inline, namespace: default}
            spec:
              jwtRules:
              - issuer: "\(issuer.issuer)"
                jwks: '\(try issuer.jwks())'
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: admins, namespace: default}
            spec:
              rules:
              - when: [{key: "request.auth.claims[groups]", values: [admins]}]
            """.write(to: config, atomically: true, encoding: .utf8)
        let arguments = ["explain", "hello", "-f", quickstart, "-f", config.path]

        let admin = try issuer.token(subject: "carol", claims: ["groups": ["admins"]])
        let verified = try await RunningGatehouse.runCLI(arguments + ["--jwt", admin])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("JWT:       verified, https://issuer.test/carol (RequestAuthentication default/inline)"), "\(verified.stdout)")
        #expect(verified.stdout.contains("Result:    200 allowed"))
        #expect(!verified.stdout.contains(admin), "the token is not printed")

        let forged = try await RunningGatehouse.runCLI(arguments + ["--jwt", try issuer.tamperedToken(), "-o", "json"])
        let explanation = try #require(try JSONSerialization.jsonObject(with: Data(forged.stdout.utf8)) as? [String: Any])
        #expect(explanation["status"] as? Int == 401)
        #expect((explanation["authentication"] as? [String: Any])?["result"] as? String == "refused")
        #expect((explanation["reason"] as? String)?.contains("jwt_signature_invalid") == true)

        let claims = directory.appendingPathComponent("claims.json")
        try #"{"iss": "https://issuer.test", "sub": "dave", "groups": ["dev"]}"#.write(to: claims, atomically: true, encoding: .utf8)
        let assumed = try await RunningGatehouse.runCLI(arguments + ["--claims", claims.path])
        #expect(assumed.stdout.contains("JWT:       https://issuer.test/dave (claims given, taken as verified)"), "\(assumed.stdout)")
        #expect(assumed.stdout.contains("Result:    403 denied"))
        #expect(assumed.stdout.contains(#"request.auth.claims[groups]"#))
    }

    @Test("A failing case prints what was expected, what happened and why, and exits 1")
    func failingCase() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("cases.yaml")
        try """
            config: [\(quickstart), \(policies)]
            cases:
            - name: deletes are fine (wrong on purpose)
              request: {method: DELETE, host: hello.default.localhost}
              expect: {status: 200, decision: allow}
            - name: reads are fine
              request: {host: hello.default.localhost}
              expect: {status: 200}
            """.write(to: file, atomically: true, encoding: .utf8)
        let result = try await RunningGatehouse.runCLI(["test", file.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL  deletes are fine (wrong on purpose)"))
        #expect(result.stdout.contains("status: expected 200, got 403"))
        #expect(result.stdout.contains("decision: expected allow, got deny"))
        #expect(result.stdout.contains(#"default/hello-readers: rule 0: to[0].operation.methods: "DELETE" is not one of ["GET", "HEAD"]"#), "\(result.stdout)")
        #expect(result.stdout.contains("ok    reads are fine"))
        #expect(result.stdout.contains("1 passed, 1 failed"))
    }
}
