import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTesting
import Testing

@Suite("LoginPolicy: a session whose ID token expires is renewed through the provider's refresh grant", .serialized)
struct LoginRenewalTests {
    /// The sessions Gatehouse keeps on disk, by subject (read as the next start would, without dropping any).
    static func storedSessions(_ gatehouse: RunningGatehouse) throws -> [String: LoginSession] {
        let path = gatehouse.stateDirectory.appendingPathComponent("login/sessions.db").path
        let sessions = try SQLiteLoginSessions(path: path).load(now: 0)
        return Dictionary(sessions.map { ($0.identity.subject, $0) }) { first, _ in first }
    }

    @Test("Renewal with the real provider: renewed by refresh_token while the provider honours it, ended when it revokes the grant")
    func refreshRenewal() async throws {
        try await AssertionVerifier.prepare()  // before any token exists: see there
        // ID tokens that live one second: every session is due for renewal at its first request
        // (renewal starts a minute before expiry), so no test waits for a clock.
        let provider = try await OIDCProvider.start(tokenLifetime: 1)
        defer { provider.stop() }
        for subject in ["alice", "bob"] { try await provider.setUser(subject, claims: ["email": "\(subject)@example.com"]) }
        try await withGatehouse(LoginFlowTests.config(issuer: provider.issuer), prepare: LoginFlowTests.writeSecret) { gatehouse in
            let host = LoginFlowTests.host
            let alice = CookieBrowser(ingress: gatehouse.ingress)
            _ = try await LoginFlowTests.logIn(alice, as: "alice", provider: provider)
            let atLogin = try #require(try Self.storedSessions(gatehouse)["alice"])
            #expect(atLogin.refreshToken != nil, "the provider issued a refresh token, kept server-side")
            let loggedInAt = Int64(Date().timeIntervalSince1970)
            #expect(atLogin.renewAfter < loggedInAt, "a one-second ID token is due for renewal at once")

            // The next request waits for the refresh grant and goes on as alice. This provider's
            // refresh answer has no ID token (OIDC allows that): the claims verified at login stay,
            // and the new access token's lifetime (an hour) says when to ask again.
            let page = try await alice.get("http://\(host)/hello")
            #expect(page.status == 200, "\(page.body)")
            let assertion = try #require((page.json["headers"] as? [String: String])?["x-gatehouse-assertion"])
            let port = try #require(URL(string: gatehouse.ingress)?.port)
            let claims = try await AssertionVerifier.verify(
                assertion, jwksURL: gatehouse.ingress + "/.well-known/jwks.json", audience: "fn.default.svc.cluster.local",
                issuer: "http://gatehouse.\(gatehouse.domain):\(port)")
            #expect(claims["sub"] as? String == "\(provider.issuer)/alice")
            #expect(claims["email"] as? String == "alice@example.com")
            let renewed = try #require(try Self.storedSessions(gatehouse)["alice"])
            #expect(renewed.renewAfter > loggedInAt, "renewed: the next renewal is after this request (\(renewed.renewAfter))")
            #expect(renewed.key == atLogin.key && renewed.expires == atLogin.expires, "the same session, its lifetime unchanged")
            #expect(renewed.refreshToken == atLogin.refreshToken, "no new refresh token was issued, so the old one is kept")
            let again = try await alice.get("http://\(host)/hello")
            #expect(again.status == 200, "\(again.body)")

            // Bob logs in; the provider then revokes his grant (an administrator disabled him). His
            // next request asks the provider, which refuses: the session ends, and his browser is
            // sent to log in again.
            let bob = CookieBrowser(ingress: gatehouse.ingress)
            _ = try await LoginFlowTests.logIn(bob, as: "bob", provider: provider)
            let bobCookie = try #require(bob.cookie("gatehouse_session", host: host))
            #expect(try Self.storedSessions(gatehouse)["bob"] != nil)
            try await provider.revokeTokens(of: "bob")
            let refused = try await bob.get("http://\(host)/hello")
            #expect(refused.status == 302, "\(refused.body)")
            #expect(refused.headers.first(name: "location")?.hasPrefix(provider.issuer + "/oauth2/authorize?") == true)
            #expect(try Self.storedSessions(gatehouse)["bob"] == nil, "the session is gone from the server")
            let api = try await gatehouse.request("fn", path: "/hello", headers: [("cookie", "gatehouse_session=\(bobCookie)")])
            #expect(api.status == 401, "the old cookie names no one now: \(api.body)")
            #expect(try await alice.get("http://\(host)/hello").status == 200, "alice's session is untouched")

            // The refresh token is a credential: never in the logs.
            let refreshToken = try #require(atLogin.refreshToken)
            #expect(!gatehouse.stderr.contains(refreshToken))
            #expect(!gatehouse.accessLog.map { "\($0)" }.joined(separator: "\n").contains(refreshToken))
        }
    }
}
