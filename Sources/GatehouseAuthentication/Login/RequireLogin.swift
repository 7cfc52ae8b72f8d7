import Foundation
import GatehouseCore

/// ② Login at the gateway, for the functions a LoginPolicy selects. Runs after the JWT stage and
/// before authorization: a bearer token RequestAuthentication verified satisfies it (API clients),
/// so an unverified `Authorization` header can never stand in for a login; a valid session cookie
/// makes the request a verified end user with the same facts a JWT gives (`record.jwt`: policies'
/// `requestPrincipals` and `request.auth.claims`, per-user rate limits, audit, traces, the assertion).
///
/// Without either, a browser (GET or HEAD, `Accept` with `text/html`) is sent to the provider
/// (authorization-code flow, PKCE S256, `state`, `nonce`); any other client gets 401 with
/// `WWW-Authenticate`. On the same host it answers `/.gatehouse/oauth2/callback` and
/// `/.gatehouse/oauth2/logout` itself. Gatehouse's cookies never reach the function.
public struct RequireLogin: RequestStage {
    public let gate: LoginGate
    public let sessions: LoginSessions
    let clock: @Sendable () -> Int64
    public var name: StageName { .login }

    public init(gate: LoginGate, sessions: LoginSessions, clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.gate = gate
        self.sessions = sessions
        self.clock = clock
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        guard let function = record.destination?.key, let entry = gate.entry(for: function) else { return .proceed }
        let cookies = headers.joined("cookie")
        if case .some(let kept) = LoginCookies.withoutOurs(cookies) {
            record.upstreamHeaders.remove.append("cookie")
            if let kept { record.upstreamHeaders.setHeader("cookie", kept) }
        }
        switch record.path.path {
        case LoginCookies.callbackPath: return callback(&record, cookies: cookies, entry: entry)
        case LoginCookies.logoutPath: return logout(&record, cookies: cookies, entry: entry)
        default: break
        }
        if record.jwt != nil { return .proceed }
        let now = clock()
        var missing = "no session cookie"
        if let cookie = LoginCookies.value(LoginCookies.session, in: cookies) {
            switch sessions.session(cookie: cookie, host: record.host, now: now) {
            case .success(let session) where session.provider == entry.client.provider.name:
                if now >= session.renewAfter, let refreshToken = session.refreshToken {
                    return renew(session, refreshToken: refreshToken, entry: entry, headers: headers)
                }
                if case .refused(let reason, let detail) = LoginAdmission.check(session.identity, against: entry.client.provider) {
                    return Self.refuseAdmission(&record, identity: session.identity, entry: entry, reason: reason, detail: detail)
                }
                record.jwt = session.identity
                return .proceed
            case .success: missing = "the session is another provider's"
            case .failure(let refusal): missing = refusal.rawValue
            }
        }
        return Self.challenge(&record, browser: Self.isBrowser(record, headers), entry: entry, sessions: sessions, because: missing, now: now)
    }

    /// The decision without spending anything: no state used up, no provider asked.
    public func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation {
        guard let function = record.destination?.key, let entry = gate.entry(for: function) else {
            return StageExplanation(.proceed, note: "no LoginPolicy applies")
        }
        let details: [String: DetailValue] = ["policy": .string(entry.policy), "provider": .string(entry.client.provider.name)]
        if let jwt = record.jwt {
            return StageExplanation(.proceed, note: "verified end user \(jwt.principal) (LoginPolicy \(entry.policy))", details: details)
        }
        let browser = Self.isBrowser(record, headers)
        let note = browser
            ? "no session: a browser is sent to provider \(entry.client.provider.name) to log in"
            : "no session: 401, log in first (LoginPolicy \(entry.policy))"
        if browser { return StageExplanation(.respond(GatewayReply(status: 302, details: "login_redirect")), note: note, details: details) }
        return StageExplanation(.reject(Self.loginRequired(record, policy: entry.policy, because: "no session")), note: note, details: details)
    }

    static func isBrowser(_ record: RequestRecord, _ headers: some RequestHeaders) -> Bool {
        (record.method == "GET" || record.method == "HEAD") && (headers.joined("accept")?.lowercased().contains("text/html") ?? false)
    }

    static func loginRequired(_ record: RequestRecord, policy: String, because: String) -> GatehouseError {
        GatehouseError(
            .loginRequired, detail: "LoginPolicy \(policy): \(because)", reason: "login_required",
            headers: [("www-authenticate", "Bearer realm=\"\(record.host)\", error=\"login_required\"")])
    }

    /// 401 for an API client; for a browser, a new login: its state sealed into a cookie on this
    /// browser, and a redirect to the provider.
    static func challenge(
        _ record: inout RequestRecord, browser: Bool, entry: LoginGate.Entry, sessions: LoginSessions, because: String, now: Int64
    ) -> StageVerdict {
        guard browser else {
            record.decision = AccessDecision(outcome: .deny, policy: entry.policy, reason: "LoginPolicy \(entry.policy): \(because)")
            return .reject(loginRequired(record, policy: entry.policy, because: because))
        }
        let scheme = record.overTLS ? "https" : "http"
        let login = LoginState(
            state: PKCE.randomToken(), nonce: PKCE.randomToken(), verifier: PKCE.randomToken(),
            returnTo: ReturnPath.validated(record.path.beforeRewrite ?? record.path.value), provider: entry.client.provider.name,
            redirectURI: "\(scheme)://\(record.authority)\(LoginCookies.callbackPath)", expires: now + LoginState.lifetime)
        let client = entry.client
        if let discovery = client.cachedDiscovery {
            return redirect(&record, to: client.authorizationURL(discovery, login: login), login: login, sessions: sessions)
        }
        return .suspend {
            do {
                let discovery = try await client.discovery()
                return { record in redirect(&record, to: client.authorizationURL(discovery, login: login), login: login, sessions: sessions) }
            } catch let failure as LoginProviderClient.Failure {
                return { _ in .reject(GatehouseError(.loginProviderUnavailable, detail: failure.description, reason: failure.code)) }
            } catch {
                return { _ in .reject(GatehouseError(.loginProviderUnavailable, detail: "\(error)", reason: "login_discovery_failed")) }
            }
        }
    }

    private static func redirect(_ record: inout RequestRecord, to url: String, login: LoginState, sessions: LoginSessions) -> StageVerdict {
        let sealed = sessions.seal(login, host: record.host)
        return .respond(GatewayReply(
            status: 302,
            headers: [("location", url), ("cache-control", "no-store"), LoginCookies.setLogin(login.state, value: sealed, secure: record.overTLS)],
            details: "login_redirect"))
    }
}
