import Foundation
import GatehouseTesting
import Testing

@Suite("LoginPolicy: a provider's allowedDomains and allowedGroups, with the real provider", .serialized)
struct LoginAdmissionFlowTests {
    static let lists = ["allowedDomains: [example.com]", "allowedGroups: [eng, ops]"]

    /// The browser's walk up to and including the callback; the callback's response.
    static func callback(_ browser: CookieBrowser, as subject: String, provider: OIDCProvider) async throws -> RunningGatehouse.Response {
        let visit = try await browser.get("http://\(LoginFlowTests.host)/hello")
        let authorize = try #require(visit.headers.first(name: "location"), "\(visit.status) \(visit.body)")
        let submitted = try await browser.post(authorize, form: "sub=\(subject)")
        let callback = try #require(submitted.headers.first(name: "location"), "\(submitted.status)")
        return try await browser.get(callback)
    }

    @Test("Outside the lists: 403 at the callback with a reason code and the request id, no session, nothing about the person in the body")
    func admission() async throws {
        let provider = try await OIDCProvider.start()
        defer { provider.stop() }
        let people: [(String, [String: any Sendable], String?)] = [
            ("alice", ["email": "alice@example.com", "email_verified": true, "groups": ["eng"]], nil),
            ("olga", ["email": "olga@EXAMPLE.com", "groups": ["sales", "ops"]], nil),
            ("mallory", ["email": "mallory@evil.test", "email_verified": true, "groups": ["eng"]], "login_domain_not_allowed"),
            ("carol", ["email": "carol@example.com", "email_verified": false, "groups": ["eng"]], "login_domain_not_allowed"),
            ("dave", ["email": "dave@example.com", "groups": ["sales"]], "login_group_not_allowed"),
            ("erin", ["email": "erin@example.com"], "login_group_not_allowed"),
        ]
        for (subject, claims, _) in people { try await provider.setUser(subject, claims: claims) }
        let config = LoginFlowTests.config(issuer: provider.issuer, providerFields: Self.lists)
        try await withGatehouse(config, prepare: LoginFlowTests.writeSecret) { gatehouse in
            for (subject, _, refusal) in people {
                let browser = CookieBrowser(ingress: gatehouse.ingress)
                let back = try await Self.callback(browser, as: subject, provider: provider)
                guard let refusal else {
                    #expect(back.status == 302, "\(subject): \(back.body)")
                    let page = try await browser.get("http://\(LoginFlowTests.host)/hello")
                    #expect(page.status == 200, "\(subject): \(page.body)")
                    continue
                }
                #expect(back.status == 403, "\(subject): \(back.status) \(back.body)")
                #expect(back.json["code"] as? String == "login_not_allowed", "\(subject): \(back.body)")
                #expect(back.json["reason"] as? String == refusal, "\(subject): \(back.body)")
                let requestId = try #require(back.headers.first(name: "x-request-id"))
                #expect(back.json["requestId"] as? String == requestId)
                for leak in [subject, "example.com", "evil.test", "groups"] {
                    #expect(!back.body.contains(leak), "\(subject): the body names \(leak): \(back.body)")
                }
                #expect(!back.headers["set-cookie"].contains { $0.hasPrefix("gatehouse_session=") }, "\(subject): no session")
                #expect(browser.cookie("gatehouse_session", host: LoginFlowTests.host) == nil)
                let after = try await browser.get("http://\(LoginFlowTests.host)/hello", accept: "application/json")
                #expect(after.status == 401, "\(subject): still not logged in")
                #expect(try LoginRenewalTests.storedSessions(gatehouse)[subject] == nil, "\(subject): no session kept")
                // Why is in the decision record, for the operator.
                let explained = try await eventually("the decision for \(subject)") {
                    let result = try await gatehouse.cli(["explain", "--request-id", requestId])
                    return result.status == 0 ? result.stdout : nil
                }
                #expect(explained.contains(refusal), "\(explained)")
            }
        }
    }

    @Test("Narrowing the lists shuts out people already logged in (403, their session kept); widening lets them back")
    func narrowedAfterLogin() async throws {
        let provider = try await OIDCProvider.start()
        defer { provider.stop() }
        try await provider.setUser("alice", claims: ["email": "alice@example.com"])
        try await withGatehouse(LoginFlowTests.config(issuer: provider.issuer), prepare: LoginFlowTests.writeSecret) { gatehouse in
            let browser = CookieBrowser(ingress: gatehouse.ingress)
            _ = try await LoginFlowTests.logIn(browser, as: "alice", provider: provider)
            let url = "http://\(LoginFlowTests.host)/hello"
            #expect(try await browser.get(url).status == 200)

            let narrowed = LoginFlowTests.config(issuer: provider.issuer, providerFields: ["allowedDomains: [corp.example]"])
            let applied = try await gatehouse.apply("narrowed.yaml", narrowed)
            #expect(applied.status == 0, "\(applied.stderr)")
            let refused = try await browser.get(url)
            #expect(refused.status == 403, "\(refused.body)")
            #expect(refused.json["reason"] as? String == "login_domain_not_allowed")
            #expect(!refused.body.contains("alice"))

            let widened = try await gatehouse.apply("widened.yaml", LoginFlowTests.config(issuer: provider.issuer))
            #expect(widened.status == 0, "\(widened.stderr)")
            #expect(try await browser.get(url).status == 200, "the same session again")
        }
    }
}
