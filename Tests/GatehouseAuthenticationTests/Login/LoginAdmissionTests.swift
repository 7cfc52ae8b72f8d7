@testable import GatehouseAuthentication
import GatehouseCore
import Testing

@Suite("Who may log in: a provider's allowedDomains and allowedGroups")
struct LoginAdmissionTests {
    static func provider(domains: [String] = [], groups: [String] = [], groupsClaim: String = "groups") -> OIDCLoginProvider {
        OIDCLoginProvider(
            name: "sso", issuer: "https://idp.test", clientID: "gatehouse", clientSecretFile: "/nonexistent",
            allowedDomains: domains, allowedGroups: groups, groupsClaim: groupsClaim)
    }

    static func person(_ claims: [String: ClaimValue]) -> VerifiedJWT {
        VerifiedJWT(issuer: "https://idp.test", subject: "someone", claims: claims)
    }

    static func reason(_ verdict: LoginAdmission.Verdict) -> String? {
        if case .refused(let reason, _) = verdict { reason } else { nil }
    }

    @Test("Without lists everyone the provider vouches for is admitted, with or without an email")
    func noLists() {
        #expect(LoginAdmission.check(Self.person([:]), against: Self.provider()) == .admitted)
    }

    @Test("allowedDomains: the email's domain exactly (any case); no email, an unverified one or a strange one is refused", arguments: [
        (["email": ClaimValue.string("alice@example.com")], nil as String?),
        (["email": .string("Alice@EXAMPLE.com")], nil),
        (["email": .string("alice@example.com"), "email_verified": .string("true")], nil),
        (["email": .string("alice@example.com"), "email_verified": .string("false")], "login_domain_not_allowed"),
        (["email": .string("mallory@evil.test")], "login_domain_not_allowed"),
        (["email": .string("mallory@sub.example.com")], "login_domain_not_allowed"),
        (["email": .string("mallory@example.com.evil.test")], "login_domain_not_allowed"),
        (["email": .string("\"a@b\"@example.com")], "login_domain_not_allowed"),
        (["email": .string("example.com")], "login_domain_not_allowed"),
        (["email": .list([.string("alice@example.com")])], "login_domain_not_allowed"),
        ([:], "login_domain_not_allowed"),
    ])
    func domains(claims: [String: ClaimValue], refused: String?) {
        let verdict = LoginAdmission.check(Self.person(claims), against: Self.provider(domains: ["example.com", "Corp.Example"]))
        #expect(Self.reason(verdict) == refused, "\(claims)")
    }

    @Test("allowedGroups: any one group in the claim (a list or one string, exact case); the claim's name is configurable")
    func groups() {
        let provider = Self.provider(groups: ["eng", "ops"])
        #expect(LoginAdmission.check(Self.person(["groups": .list([.string("sales"), .string("ops")])]), against: provider) == .admitted)
        #expect(LoginAdmission.check(Self.person(["groups": .string("eng")]), against: provider) == .admitted)
        #expect(Self.reason(LoginAdmission.check(Self.person(["groups": .list([.string("Eng")])]), against: provider)) == "login_group_not_allowed")
        #expect(Self.reason(LoginAdmission.check(Self.person(["groups": .list([])]), against: provider)) == "login_group_not_allowed")
        #expect(Self.reason(LoginAdmission.check(Self.person([:]), against: provider)) == "login_group_not_allowed")
        let roles = Self.provider(groups: ["eng"], groupsClaim: "roles")
        #expect(LoginAdmission.check(Self.person(["roles": .list([.string("eng")])]), against: roles) == .admitted)
        #expect(Self.reason(LoginAdmission.check(Self.person(["groups": .list([.string("eng")])]), against: roles)) == "login_group_not_allowed")
    }

    @Test("Both lists: both must hold; the detail (for the audit record) never holds the whole address")
    func both() {
        let provider = Self.provider(domains: ["example.com"], groups: ["eng"])
        #expect(LoginAdmission.check(Self.person(["email": .string("a@example.com"), "groups": .string("eng")]), against: provider) == .admitted)
        #expect(Self.reason(LoginAdmission.check(Self.person(["email": .string("a@example.com"), "groups": .string("x")]), against: provider))
            == "login_group_not_allowed")
        let verdict = LoginAdmission.check(Self.person(["email": .string("mallory@evil.test"), "groups": .string("eng")]), against: provider)
        guard case .refused("login_domain_not_allowed", let detail) = verdict else { Issue.record("\(verdict)"); return }
        #expect(detail.contains("evil.test") && !detail.contains("mallory"))
    }
}
