import Foundation
import GatehouseTesting
import Testing

@Suite("LoginPolicy: a headless Chromium logs in through the real redirect flow", .serialized)
struct ChromiumLoginTests {
    @Test("Chromium: the function's URL, the provider's form, the callback, the function's page (an assertion, no session cookie); logout, then sent to log in again")
    func chromiumLogin() async throws {
        try await AssertionVerifier.prepare()  // before any token exists: see there
        let provider = try await OIDCProvider.start()
        defer { provider.stop() }
        try await provider.setUser("alice", claims: ["email": "alice@example.com"])
        try await withGatehouse(LoginFlowTests.config(issuer: provider.issuer), prepare: LoginFlowTests.writeSecret) { gatehouse in
            // The browser resolves fn.default.localhost to 127.0.0.1 itself and sends that name in Host.
            let port = try #require(URL(string: gatehouse.ingress)?.port)
            let origin = "http://fn.default.\(gatehouse.domain):\(port)"
            let authorize = provider.issuer + "/oauth2/authorize?"
            let pages = try await HeadlessChromium.browse([
                .visit(origin + "/hello?x=1"),
                .submit(["sub": "alice"]),
                .visit(origin + "/.gatehouse/oauth2/logout"),
                .submit([:]),
                .visit(origin + "/hello"),
            ])
            try #require(pages.count == 5)

            // A browser without a session is sent to the provider's login form.
            let (login, back, logout, ended, again) = (pages[0], pages[1], pages[2], pages[3], pages[4])
            #expect(login.navigations.first == "GET \(origin)/hello?x=1", "\(login.navigations)")
            #expect(login.url.hasPrefix(authorize), "\(login.url)")
            #expect(login.text.contains("Authorize"), "\(login.text)")

            // The form posts to the provider, which sends the browser to the callback, which sets the
            // session and returns to the page first asked for.
            #expect(back.navigations.first?.hasPrefix("POST \(authorize)") == true, "\(back.navigations)")
            #expect(back.navigations.contains { $0.hasPrefix("GET \(origin)/.gatehouse/oauth2/callback?code=") }, "\(back.navigations)")
            #expect(back.navigations.last == "GET \(origin)/hello?x=1", "\(back.navigations)")
            #expect(back.url == origin + "/hello?x=1")
            #expect(back.cookies.contains("gatehouse_session"), "the browser keeps the session: \(back.cookies)")
            let page = try #require(try JSONSerialization.jsonObject(with: Data(back.text.utf8)) as? [String: Any], "\(back.text)")
            let headers = try #require(page["headers"] as? [String: String])
            #expect(headers["cookie"]?.contains("gatehouse_") != true, "Gatehouse's cookies never reach the function: \(headers)")
            #expect(headers["user-agent"]?.contains("HeadlessChrome") == true, "\(headers)")
            let assertion = try #require(headers["x-gatehouse-assertion"])
            let claims = try await AssertionVerifier.verify(
                assertion, jwksURL: gatehouse.ingress + "/.well-known/jwks.json", audience: "fn.default.svc.cluster.local",
                issuer: "http://gatehouse.\(gatehouse.domain):\(port)")
            #expect(claims["sub"] as? String == "\(provider.issuer)/alice")
            #expect(claims["email"] as? String == "alice@example.com")

            // Logout ends the session and clears the cookie, then hands over to the provider's end-session page.
            #expect(logout.navigations.first == "GET \(origin)/.gatehouse/oauth2/logout", "\(logout.navigations)")
            #expect(logout.url.hasPrefix(provider.issuer + "/oauth2/end_session?"), "\(logout.url)")
            // Back from the provider to the function's host: no session any more, so off to log in.
            #expect(ended.navigations.contains("GET \(origin)/"), "\(ended.navigations)")
            #expect(ended.url.hasPrefix(authorize), "\(ended.url)")
            #expect(again.url.hasPrefix(authorize), "the next visit is sent to log in again: \(again.url)")

            // Every page the browser loaded was on loopback.
            for navigation in pages.flatMap(\.navigations) {
                let host = URL(string: String(navigation.split(separator: " ")[1]))?.host ?? ""
                #expect(host == "127.0.0.1" || host.hasSuffix(".localhost"), "\(navigation)")
            }
        }
    }
}
