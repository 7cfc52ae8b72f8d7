import Foundation
import GatehouseTesting
import Testing

@Suite("RequestAuthentication with a real OIDC provider", .serialized)
struct RequestAuthenticationTests {
    /// Istio's "require a JWT" pattern, plus an admin area only for the `admins` group.
    static func config(issuer: String, keys: String = "") -> String {
        fixtureFunction(name: "fn") + """
            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: oidc, namespace: default}
            spec:
              jwtRules:
              - issuer: "\(issuer)"
                audiences: ["gatehouse-test"]
            \(keys.isEmpty ? "" : "    " + keys + "\n")    outputClaimToHeaders:
                - {header: x-user, claim: sub}
                - {header: x-groups, claim: groups}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: require-jwt, namespace: default}
            spec:
              action: ALLOW
              rules:
              - from: [{source: {requestPrincipals: ["*"]}}]
                to: [{operation: {notPaths: ["/admin*"]}}]
              - from: [{source: {requestPrincipals: ["\(issuer)/*"]}}]
                to: [{operation: {paths: ["/admin*"]}}]
                when: [{key: "request.auth.claims[groups]", values: ["admins"]}]

            """
    }

    @Test("Tokens from the provider's login flow are verified through OIDC discovery; claims reach policies and the function")
    func discoveryAndClaims() async throws {
        let provider = try await OIDCProvider.start()
        defer { provider.stop() }
        try await provider.setUser("alice", claims: ["email": "alice@example.com", "groups": ["admins"]])
        try await provider.setUser("bob", claims: ["email": "bob@example.com", "groups": ["dev"]])
        let alice = try await provider.idToken(for: "alice")
        let bob = try await provider.idToken(for: "bob")

        try await withGatehouse(Self.config(issuer: provider.issuer)) { gatehouse in
            let anonymous = try await gatehouse.request("fn")
            #expect(anonymous.status == 403, "no token: authenticated as nobody, and the policy wants a principal")
            #expect(anonymous.errorCode == "not_allowed_by_policy")

            let response = try await gatehouse.request(
                "fn", path: "/admin/report", headers: [("authorization", "Bearer \(alice)"), ("x-user", "mallory")])
            #expect(response.status == 200, "\(response.body)")
            let seen = try #require(response.json["headers"] as? [String: String])
            #expect(seen["x-user"] == "alice", "verified claims replace what the caller sent")
            #expect(seen["x-groups"] == "admins")
            #expect(seen["authorization"] == nil, "the token is not forwarded (forwardOriginalToken: false)")
            let line = try await gatehouse.accessLogLine(requestId: try #require(response.headers.first(name: "x-request-id")))
            #expect(line["request_principal"] as? String == "\(provider.issuer)/alice")
            let accessLog = try String(contentsOf: gatehouse.directory.appendingPathComponent("stdout.log"), encoding: .utf8)
            #expect(!gatehouse.stderr.contains(alice) && !accessLog.contains(alice), "tokens never appear in logs")

            #expect(try await gatehouse.request("fn", headers: [("authorization", "Bearer \(bob)")]).status == 200)
            let bobAdmin = try await gatehouse.request("fn", path: "/admin", headers: [("authorization", "Bearer \(bob)")])
            #expect(bobAdmin.status == 403, "bob is not in admins")

            let otherClient = try await provider.idToken(for: "alice", clientID: "another-app")
            let wrongAudience = try await gatehouse.request("fn", headers: [("authorization", "Bearer \(otherClient)")])
            #expect(wrongAudience.status == 401)
            #expect(wrongAudience.json["reason"] as? String == "jwt_audience_not_allowed")
            // RFC 6750 §3, with where to learn this function's issuers first (RFC 9728 §5.1).
            let challenge = wrongAudience.headers.first(name: "www-authenticate") ?? ""
            #expect(challenge.hasPrefix(#"Bearer resource_metadata=""#) && challenge.contains(#"error="invalid_token""#), "\(challenge)")
            #expect(wrongAudience.json["requestId"] as? String == wrongAudience.headers.first(name: "x-request-id"))
        }
    }

    @Test("An issuer that starts late is picked up without a restart; while it is down the last good keys keep working")
    func lateAndDownIssuer() async throws {
        let port = try LoopbackPort.free()
        let first = try await OIDCProvider.start(port: port)
        let beforeStart = try await first.idToken(for: "alice")
        first.stop()

        try await withGatehouse(Self.config(issuer: "http://127.0.0.1:\(port)", keys: "jwksUri: http://127.0.0.1:\(port)/jwks")) { gatehouse in
            let early = try await gatehouse.request("fn", headers: [("authorization", "Bearer \(beforeStart)")])
            #expect(early.status == 401)
            #expect(early.json["reason"] as? String == "jwt_keys_unavailable")

            let provider = try await OIDCProvider.start(port: port)
            let fresh = try await provider.idToken(for: "alice")
            let spare = try await provider.idToken(for: "bob")
            let picked = try await eventually("the late issuer's keys", timeout: .seconds(30)) {
                let response = try await gatehouse.request("fn", headers: [("authorization", "Bearer \(fresh)")])
                return response.status == 200 ? response : nil
            }
            #expect(picked.status == 200)

            provider.stop()
            // A token with a kid the keys lack makes Gatehouse try to refetch; the fetch fails.
            let forged = try TestIssuer(issuer: "http://127.0.0.1:\(port)", keyID: "rotated")
            let unknown = try await gatehouse.request("fn", headers: [("authorization", "Bearer \(try forged.token(claims: ["aud": "gatehouse-test"]))")])
            #expect(unknown.status == 401)
            // …and the last good keys still verify a token never seen before.
            let afterOutage = try await gatehouse.request("fn", headers: [("authorization", "Bearer \(spare)")])
            #expect(afterOutage.status == 200, "issuer down: \(afterOutage.body)")
        }
    }

    @Test("Forged tokens get 401 with a reason code, the request id and WWW-Authenticate; none reaches the function")
    func hostileTokens() async throws {
        let issuer = try TestIssuer()
        let config = fixtureFunction(name: "fn") + """
            ---
            apiVersion: security.istio.io/v1beta1
            kind: RequestAuthentication
            metadata: {name: inline, namespace: default}
            spec:
              selector: {matchLabels: {}}
              jwtRules:
              - issuer: "\(issuer.issuer)"
                jwks: '\(try issuer.jwks())'

            """
        try await withGatehouse(config) { gatehouse in
            let now = Int(Date().timeIntervalSince1970)
            let forged: [(String, String)] = [
                (try issuer.unsignedToken(), "jwt_unsupported_algorithm"),
                (try issuer.hmacWithPublicKey(), "jwt_unsupported_algorithm"),
                (try TestIssuer(keyID: "unknown").token(), "jwt_unknown_key"),
                (try TestIssuer(issuer: "https://elsewhere.test").token(), "jwt_issuer_not_trusted"),
                (try issuer.token(claims: ["exp": now - 3600]), "jwt_expired"),
                (try issuer.token(claims: ["nbf": now + 3600]), "jwt_not_yet_valid"),
                (try issuer.tamperedToken(), "jwt_signature_invalid"),
                (try issuer.strippedToken(), "jwt_signature_invalid"),
                // Signed with the trusted key, refused for their form (RFC 7515/7519).
                (try issuer.token(header: ["crit": ["exp"]]), "jwt_unsupported_crit"),
                (try issuer.token(headerJSON: issuer.headerJSON, payloadJSON: #"{"iss":"\#(issuer.issuer)","sub":"alice","sub":"admin"}"#), "jwt_duplicate_member"),
                (try issuer.token() + "==", "jwt_malformed_encoding"),
            ]
            for (token, reason) in forged {
                let response = try await gatehouse.request("fn", headers: [("authorization", "Bearer \(token)")])
                #expect(response.status == 401, "\(reason)")
                #expect(response.json["reason"] as? String == reason)
                #expect(response.headers.first(name: "www-authenticate")
                    == #"Bearer resource_metadata="http://fn.default.\#(gatehouse.domain)/.well-known/oauth-protected-resource", error="invalid_token", error_description="\#(reason)""#)
                #expect(response.json["pid"] == nil, "the function was not called")
            }
            let refused = try await gatehouse.request("fn", headers: [("authorization", "Bearer \(try issuer.strippedToken())")])
            let refusedLine = try await gatehouse.accessLogLine(requestId: try #require(refused.headers.first(name: "x-request-id")))
            #expect(refusedLine["response_code_details"] as? String == "jwt_authn_access_denied{jwt_signature_invalid}")
            #expect((refusedLine["authz_reason"] as? String)?.contains("the signature does not verify") == true)
            let queryToken = try issuer.token()
            let valid = try await gatehouse.request("fn", path: "/?access_token=\(queryToken)")
            #expect(valid.status == 200, "no policy requires a principal; a valid token passes")
            let line = try await gatehouse.accessLogLine(requestId: try #require(valid.headers.first(name: "x-request-id")))
            #expect(line["path"] as? String == "/?access_token=REDACTED", "a token in the query is not logged")
            // The JWT rule's redaction adds to the front's: an API key stays redacted beside no token.
            let keyed = try await gatehouse.request("fn", path: "/?api_key=k3y&x=1")
            let keyedLine = try await gatehouse.accessLogLine(requestId: try #require(keyed.headers.first(name: "x-request-id")))
            #expect(keyedLine["path"] as? String == "/?api_key=REDACTED&x=1")

            // The body keeps arriving while the token is verified off the event loop; none of it is lost.
            let body = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let upload = try await gatehouse.request(
                "fn", path: "/upload", method: .POST, headers: [("authorization", "Bearer \(try issuer.token(subject: "uploader"))")], body: body)
            #expect(upload.status == 200)
            #expect(upload.json["length"] as? Int == body.count)
            #expect(upload.json["sha256"] as? String == sha256Hex(body))
        }
    }
}
