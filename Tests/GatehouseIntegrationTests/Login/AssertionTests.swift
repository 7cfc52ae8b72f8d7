import Foundation
import GatehouseTesting
import Testing

@Suite("X-Gatehouse-Assertion: the verified caller, signed for the function", .serialized)
struct AssertionTests {
    static func config(issuer: String) -> String {
        fixtureFunction(name: "fn") + """
            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: oidc, namespace: default}
            spec:
              jwtRules:
              - issuer: "\(issuer)"
                audiences: ["gatehouse-test"]

            """
    }

    /// `iat` of a compact JWT, unverified (the test verifies signatures with PyJWT).
    static func issuedAt(_ token: String) -> Int {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return 0 }
        var payload = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
        guard let data = Data(base64Encoded: payload),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return 0 }
        return object["iat"] as? Int ?? 0
    }

    @Test("A bearer-token user and a mesh peer each reach the function with an assertion PyJWT verifies against the published JWKS; a client's own is removed")
    func verifiedWithPyJWT() async throws {
        try await AssertionVerifier.prepare()  // before any token exists: see there
        let provider = try await OIDCProvider.start()
        defer { provider.stop() }
        try await provider.setUser("alice", claims: ["email": "alice@example.com", "groups": ["admins", "dev"]])
        let token = try await provider.idToken(for: "alice")

        try await withGatehouse(Self.config(issuer: provider.issuer)) { gatehouse in
            // The metadata answers on any host, before routing.
            let metadata = try await RunningGatehouse.send(
                url: gatehouse.ingress + "/.well-known/oauth-authorization-server", host: "no-such-function.example", method: .GET, headers: [], body: nil)
            #expect(metadata.status == 200, "\(metadata.body)")
            let issuer = try #require(metadata.json["issuer"] as? String)
            #expect(issuer == "http://gatehouse.\(gatehouse.domain):\(try #require(URL(string: gatehouse.ingress)?.port))")
            #expect(metadata.json["jwks_uri"] as? String == issuer + "/.well-known/jwks.json")
            let jwksURL = gatehouse.ingress + "/.well-known/jwks.json"

            let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."
            let user = try await gatehouse.request("fn", headers: [("authorization", "Bearer \(token)"), ("x-gatehouse-assertion", forged)])
            #expect(user.status == 200, "\(user.body)")
            let assertion = try #require((user.json["headers"] as? [String: String])?["x-gatehouse-assertion"])
            #expect(assertion != forged)
            // Asked again at once (before PyJWT, whose install may take a while on a loaded machine):
            // the same token, unless the first is already half-way through its life.
            let again = try await gatehouse.request("fn", headers: [("authorization", "Bearer \(token)")])
            let secondAssertion = try #require((again.json["headers"] as? [String: String])?["x-gatehouse-assertion"])
            #expect(
                secondAssertion == assertion || Self.issuedAt(secondAssertion) >= Self.issuedAt(assertion) + 30,
                "cached, not signed per request")
            let claims = try await AssertionVerifier.verify(assertion, jwksURL: jwksURL, audience: "fn.default.svc.cluster.local", issuer: issuer)
            #expect(claims["sub"] as? String == "\(provider.issuer)/alice")
            #expect(claims["email"] as? String == "alice@example.com")
            #expect(claims["groups"] as? [String] == ["admins", "dev"])
            let lifetime = (claims["exp"] as? Int ?? 0) - (claims["iat"] as? Int ?? 0)
            #expect(lifetime == 60)
            await #expect(throws: AssertionVerifier.Refused.self, "another function's audience is refused") {
                _ = try await AssertionVerifier.verify(assertion, jwksURL: jwksURL, audience: "other.default.svc.cluster.local", issuer: issuer)
            }

            let anonymous = try await gatehouse.request("fn", headers: [("x-gatehouse-assertion", forged)])
            #expect(anonymous.status == 200)
            #expect((anonymous.json["headers"] as? [String: String])?["x-gatehouse-assertion"] == nil, "a client's own assertion never reaches the function")

            let svid = try await gatehouse.issueSVID("spiffe://cluster.local/ns/default/sa/billing")
            let peer = try await MeshClient.request(
                gatehouse.mesh, host: "fn.default.\(gatehouse.domain)", path: "/",
                certificate: svid.appendingPathComponent("cert.pem"), key: svid.appendingPathComponent("key.pem"),
                bundle: gatehouse.stateDirectory.appendingPathComponent("ca/root-cert.pem"), headers: [("x-gatehouse-assertion", forged)])
            #expect(peer.status == 200, "\(peer.body)")
            let peerAssertion = try #require((peer.json["headers"] as? [String: String])?["x-gatehouse-assertion"])
            let peerClaims = try await AssertionVerifier.verify(peerAssertion, jwksURL: jwksURL, audience: "fn.default.svc.cluster.local", issuer: issuer)
            #expect(peerClaims["sub"] as? String == "spiffe://cluster.local/ns/default/sa/billing")

            // The key is kept under the CA, owner-only, and published with its chain.
            let keyFile = gatehouse.stateDirectory.appendingPathComponent("issuer/signing-key.pem")
            let mode = try FileManager.default.attributesOfItem(atPath: keyFile.path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let jwks = try await RunningGatehouse.send(url: jwksURL, host: "fn.default.\(gatehouse.domain)", method: .GET, headers: [], body: nil)
            let keys = try #require(jwks.json["keys"] as? [[String: Any]])
            #expect(keys.count == 1)
            #expect((keys.first?["x5c"] as? [String])?.isEmpty == false)
            #expect(!gatehouse.stderr.contains(assertion), "assertions are not logged")
        }
    }

    @Test("The signing key survives a restart: assertions signed before it still verify")
    func keptAcrossRestart() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let before = try await RunningGatehouse.send(
                url: gatehouse.ingress + "/.well-known/jwks.json", host: "x", method: .GET, headers: [], body: nil).json["keys"] as? [[String: Any]]
            _ = try await gatehouse.stop()
            let restarted = try await gatehouse.restart()
            let after = try await RunningGatehouse.send(
                url: restarted.ingress + "/.well-known/jwks.json", host: "x", method: .GET, headers: [], body: nil).json["keys"] as? [[String: Any]]
            #expect(before?.first?["kid"] as? String != nil)
            #expect(before?.first?["kid"] as? String == after?.first?["kid"] as? String)
            _ = try await restarted.stop()
        }
    }
}
