import Foundation
@testable import GatehouseAuthentication
import GatehouseCore
import Logging
import Testing

@Suite("The login stage's verdicts")
struct RequireLoginTests {
    static let provider = OIDCLoginProvider(name: "sso", issuer: "http://127.0.0.1:9/", clientID: "gatehouse", clientSecretFile: "/nonexistent")

    static func stage(now: Int64 = 1_000, provider: OIDCLoginProvider = provider) throws -> (RequireLogin, LoginSessions) {
        let sessions = try LoginSessions(sealer: CookieSealer(current: .random(id: 1)), store: nil)
        let gate = LoginGate(
            policies: [LoginPolicySpec(namespace: "default", name: "staff", functions: ["fn"], provider: "sso")],
            functions: [function], rootNamespace: "istio-system", providers: [provider],
            clients: LoginClients(keys: KeyDirectory(client: testClient, logger: Logger(label: "test"))))
        return (RequireLogin(gate: gate, sessions: sessions) { now }, sessions)
    }

    static func begin(_ sessions: LoginSessions, now: Int64 = 1_000, lifetime: Int64 = 3600, host: String = "fn.default.localhost") throws -> String {
        try sessions.begin(provider: "sso", host: host, identity: alice, lifetime: lifetime, renewAfter: now + lifetime, refreshToken: nil, now: now)
    }

    @Test("Provider clients follow the config: an edited provider leaves one client, a removed one none")
    func clientsPruned() {
        let clients = LoginClients(keys: KeyDirectory(client: testClient, logger: Logger(label: "test")))
        var edited = Self.provider
        for index in 0..<20 {
            edited.clientID = "gatehouse-\(index)"
            _ = clients.client(for: edited)
            clients.retain([edited])
        }
        #expect(clients.count == 1)
        clients.retain([])
        #expect(clients.count == 0)
    }

    @Test("A valid session makes the request alice's, as a verified JWT would; its cookie never reaches the function")
    func session() throws {
        let (stage, sessions) = try Self.stage()
        let cookie = try Self.begin(sessions)
        var request = record()
        guard case .proceed = stage.process(&request, headers: Headers([("cookie", "a=1; gatehouse_session=\(cookie)")])) else {
            Issue.record("refused"); return
        }
        #expect(request.jwt?.principal == "https://idp.test/alice")
        #expect(request.upstreamHeaders.remove.contains("cookie"))
        #expect(request.upstreamHeaders.set.first { $0.name == "cookie" }?.value == "a=1")
        #expect(cookie.utf8.count < 400, "the cookie stays small: \(cookie.utf8.count) bytes")
    }

    @Test("Forged, tampered, expired, ended and other-host cookies are refused: 401 for an API client, with WWW-Authenticate")
    func refusals() throws {
        let (stage, sessions) = try Self.stage(now: 1_000)
        let good = try Self.begin(sessions)
        var tampered = Array(good.utf8)
        tampered[10] = tampered[10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let forged = CookieSealer(current: .random(id: 1)).seal(
            try JSONEncoder().encode(SessionTicket(id: PKCE.randomToken(), expires: 9_999)), boundTo: "fn.default.localhost")
        let expired = try Self.begin(sessions, now: 0, lifetime: 600)
        let ended = try Self.begin(sessions)
        try sessions.end(LoginSessions.key(for: "unrelated"))
        let endedKey = try #require(sessions.session(cookie: Substring(ended), host: "fn.default.localhost", now: 1_000).successValue?.key)
        try sessions.end(endedKey)
        let elsewhere = try Self.begin(sessions, host: "other.default.localhost")
        for (name, cookie) in [("tampered", String(decoding: tampered, as: UTF8.self)), ("forged", forged), ("expired", expired),
                               ("ended", ended), ("other host", elsewhere), ("none", "")] {
            var request = record()
            let headers = Headers(cookie.isEmpty ? [] : [("cookie", "gatehouse_session=\(cookie)")])
            guard case .reject(let error) = stage.process(&request, headers: headers) else { Issue.record("\(name) accepted"); continue }
            #expect(error.code == .loginRequired, "\(name)")
            #expect(error.headers.contains { $0.name == "www-authenticate" && $0.value.hasPrefix("Bearer realm=") }, "\(name)")
            #expect(request.jwt == nil, "\(name)")
            #expect(request.decision?.outcome == .deny, "\(name)")
        }
    }

    @Test("A browser without a session is sent to log in (the provider is asked for its endpoints off the loop)")
    func browserIsRedirected() throws {
        let (stage, _) = try Self.stage()
        var request = record()
        guard case .suspend = stage.process(&request, headers: Headers([("accept", "text/html,application/xhtml+xml")])) else {
            Issue.record("a browser must be redirected, after discovery"); return
        }
        var post = record()
        post.method = "POST"
        guard case .reject = stage.process(&post, headers: Headers([("accept", "text/html")])) else { Issue.record("a POST is not redirected"); return }
    }

    @Test("A bearer token RequestAuthentication verified satisfies the policy; functions no LoginPolicy selects are untouched")
    func bearerAndOthers() throws {
        let (stage, _) = try Self.stage()
        var bearer = record(jwt: alice)
        guard case .proceed = stage.process(&bearer, headers: Headers()) else { Issue.record("verified bearer refused"); return }
        var other = record()
        other.destination = FunctionDestination(spec: FunctionSpec(name: "open", namespace: "default", process: .init(command: ["x"])))
        guard case .proceed = stage.process(&other, headers: Headers([("cookie", "gatehouse_session=x")])) else { Issue.record("refused"); return }
        #expect(other.upstreamHeaders.isEmpty)
    }

    @Test("A session of someone the provider's lists now leave out: 403 with the reason code, the session kept, nothing forwarded")
    func sessionOutsideTheLists() throws {
        var narrowed = Self.provider
        narrowed.allowedDomains = ["corp.example"]
        let (stage, sessions) = try Self.stage(provider: narrowed)
        let cookie = try Self.begin(sessions)
        var request = record()
        guard case .reject(let error) = stage.process(&request, headers: Headers([("cookie", "gatehouse_session=\(cookie)")])) else {
            Issue.record("alice@example.com admitted by allowedDomains [corp.example]"); return
        }
        #expect(error.code == .loginNotAllowed)
        #expect(error.reason == "login_domain_not_allowed")
        #expect(request.decision?.outcome == .deny)
        #expect(request.decision?.reason.contains("example.com") == true, "the audit record says why")
        #expect(sessions.count == 1, "refused, not logged out: widening the list lets her back in")
    }

    @Test("Renewal is due a minute before the ID token expires; a token without expiry lasts the session")
    func renewalTime() {
        #expect(LoginSessions.renewalTime(tokenExpires: 2_000, now: 1_000, lifetime: 3600) == 1_940)
        #expect(LoginSessions.renewalTime(tokenExpires: 1_001, now: 1_000, lifetime: 3600) < 1_000, "a one-second token is renewed at the next request")
        #expect(LoginSessions.renewalTime(tokenExpires: nil, now: 1_000, lifetime: 3600) == 4_540)
    }

    @Test("The callback refuses a state not sealed into this browser's cookie, an expired one, and a replay")
    func callbackState() throws {
        let (stage, sessions) = try Self.stage(now: 1_000)
        func login(_ state: String, expires: Int64 = 1_500) -> String {
            sessions.seal(LoginState(
                state: state, nonce: "n", verifier: "v", returnTo: "/", provider: "sso", redirectURI: "http://fn.default.localhost/.gatehouse/oauth2/callback",
                expires: expires), host: "fn.default.localhost")
        }
        func callback(state: String, cookie: String?) -> StageVerdict {
            var request = record()
            request.path = RequestPath("/.gatehouse/oauth2/callback?code=c&state=\(state)")
            let headers = Headers(cookie.map { [("cookie", "\(LoginCookies.loginName(for: state))=\($0)")] } ?? [])
            return stage.process(&request, headers: headers)
        }
        func reason(_ verdict: StageVerdict) -> String? { if case .reject(let error) = verdict { error.reason } else { nil } }
        let state = PKCE.randomToken()
        #expect(reason(callback(state: state, cookie: nil)) == "login_state_invalid", "CSRF: no login began on this browser")
        #expect(reason(callback(state: state, cookie: login(PKCE.randomToken()))) == "login_state_invalid", "another login's cookie")
        #expect(reason(callback(state: state, cookie: login(state, expires: 900))) == "login_state_expired")
        guard case .suspend = callback(state: state, cookie: login(state)) else { Issue.record("a valid callback must exchange the code"); return }
        #expect(reason(callback(state: state, cookie: login(state))) == "login_state_replayed")
    }
}

extension Result {
    var successValue: Success? { if case .success(let value) = self { value } else { nil } }
}
