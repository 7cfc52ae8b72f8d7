import Foundation
import GatehouseCore

extension RequireLogin {
    /// `/.gatehouse/oauth2/callback?code=…&state=…`: the state must be the one sealed into this
    /// browser's login cookie (CSRF, login fixation), unexpired and unused (replay); then the code
    /// is exchanged (with the PKCE verifier), the ID token verified and its nonce checked, and a new
    /// session — always a new id, never one the browser brought — is set before going back.
    func callback(_ record: inout RequestRecord, cookies: String?, entry: LoginGate.Entry) -> StageVerdict {
        func refuse(_ reason: String, _ detail: String) -> StageVerdict {
            record.decision = AccessDecision(outcome: .deny, policy: entry.policy, reason: "login callback refused (\(reason)): \(detail)")
            return .reject(GatehouseError(.loginRefused, detail: detail, reason: reason))
        }
        let query = URLComponents(string: "/?" + record.path.query.dropFirst())?.queryItems ?? []
        func parameter(_ name: String) -> String? { query.first { $0.name == name }?.value }
        if parameter("error") != nil { return refuse("login_provider_error", "the provider refused the login") }
        guard let state = parameter("state"), let code = parameter("code") else {
            return refuse("login_callback_incomplete", "the callback lacks code or state")
        }
        guard let sealed = LoginCookies.value(LoginCookies.loginName(for: state), in: cookies),
              let login = sessions.openLogin(sealed, host: record.host), login.state == state else {
            return refuse("login_state_invalid", "no login in progress on this browser has this state")
        }
        let now = clock()
        guard login.expires > now else { return refuse("login_state_expired", "the login took longer than \(LoginState.lifetime) s") }
        guard login.provider == entry.client.provider.name else { return refuse("login_state_invalid", "the login was for another provider") }
        guard sessions.states.consume(state, expires: login.expires, now: now) else {
            return refuse("login_state_replayed", "this state was already used")
        }
        let client = entry.client
        let sessions = sessions
        let host = record.host
        let secure = record.overTLS
        return .suspend {
            do {
                let tokens = try await client.exchange(code: code, login: login)
                guard let idToken = tokens.idToken else {
                    throw LoginProviderClient.Failure(code: "login_token_exchange_failed", description: "the token endpoint returned no id_token")
                }
                let identity = try await client.verify(idToken: idToken, nonce: login.nonce)
                // Before a session exists: someone the provider's lists leave out gets none.
                if case .refused(let reason, let detail) = LoginAdmission.check(identity, against: client.provider) {
                    return { record in
                        Self.refuseAdmission(&record, identity: identity, entry: entry, reason: reason, detail: detail)
                    }
                }
                let cookie = try sessions.begin(
                    provider: client.provider.name, host: host, identity: identity, lifetime: entry.sessionLifetime,
                    renewAfter: LoginSessions.renewalTime(tokenExpires: identity.expires, now: now, lifetime: entry.sessionLifetime),
                    refreshToken: tokens.refreshToken, now: now)
                return { record in
                    record.jwt = identity
                    return .respond(GatewayReply(
                        status: 302,
                        headers: [
                            ("location", login.returnTo), ("cache-control", "no-store"),
                            LoginCookies.setSession(cookie, maxAge: entry.sessionLifetime, secure: secure),
                            LoginCookies.clearLogin(login.state, secure: secure),
                        ],
                        details: "login_complete"))
                }
            } catch let failure as LoginProviderClient.Failure {
                return { record in
                    record.decision = AccessDecision(outcome: .deny, policy: entry.policy, reason: "login failed (\(failure.code)): \(failure.description)")
                    return .reject(GatehouseError(.loginRefused, detail: failure.description, reason: failure.code))
                }
            } catch {
                return { _ in .reject(GatehouseError(.loginProviderUnavailable, detail: "cannot keep the session: \(error)", reason: "login_session_store_failed")) }
            }
        }
    }

    /// `/.gatehouse/oauth2/logout`: the session is deleted server-side (every copy of the cookie
    /// stops working), the cookie cleared, and the browser sent to the provider's
    /// `end_session_endpoint` when it has one.
    func logout(_ record: inout RequestRecord, cookies: String?, entry: LoginGate.Entry) -> StageVerdict {
        var found: LoginSession?
        if let cookie = LoginCookies.value(LoginCookies.session, in: cookies),
           case .success(let session) = sessions.session(cookie: cookie, host: record.host, now: clock()) {
            found = session
            record.jwt = session.identity
        }
        let key = found?.key
        let sessions = sessions
        let client = entry.client
        let secure = record.overTLS
        let home = "\(secure ? "https" : "http")://\(record.authority)/"
        return .suspend {
            if let key { try? sessions.end(key) }
            let discovery = try? await client.discovery()
            return { _ in
                let clear = LoginCookies.clearSession(secure: secure)
                if let end = discovery?.endSessionEndpoint, var components = URLComponents(string: end) {
                    components.queryItems = (components.queryItems ?? []) + [
                        URLQueryItem(name: "client_id", value: client.provider.clientID),
                        URLQueryItem(name: "post_logout_redirect_uri", value: home),
                    ]
                    return .respond(GatewayReply(
                        status: 302, headers: [("location", components.string ?? end), ("cache-control", "no-store"), clear], details: "logout"))
                }
                return .respond(GatewayReply(
                    status: 200, headers: [("content-type", "text/plain; charset=utf-8"), ("cache-control", "no-store"), clear],
                    body: "Logged out.\n", details: "logout"))
            }
        }
    }

    /// A session whose ID token is about to expire (`LoginSessions.renewAhead`), with a refresh
    /// token: the provider is asked again before the request goes on; if it refuses, the session
    /// ends. A new ID token is verified and must name the same person (OIDC Core §12.2); without
    /// one (the spec allows it), the claims verified at login stay and the access token's
    /// `expires_in` says when to ask again. Either way the provider's lists are checked again.
    func renew(_ session: LoginSession, refreshToken: String, entry: LoginGate.Entry, headers: some RequestHeaders) -> StageVerdict {
        let sessions = sessions
        let client = entry.client
        let now = clock()
        let browser = headers.joined("accept")?.lowercased().contains("text/html") ?? false
        return .suspend {
            do {
                let tokens = try await client.refresh(refreshToken)
                var identity = session.identity
                var tokenExpires = tokens.expiresIn.map { now + $0 }
                if let idToken = tokens.idToken {
                    identity = try await client.verify(idToken: idToken, nonce: nil)
                    guard identity.issuer == session.identity.issuer, identity.subject == session.identity.subject else {
                        throw LoginProviderClient.Failure(code: "login_refresh_other_subject", description: "the renewed ID token names another person")
                    }
                    tokenExpires = identity.expires
                }
                let renewAfter = LoginSessions.renewalTime(tokenExpires: tokenExpires, now: now, lifetime: session.expires - now)
                let renewed = try sessions.renew(session, identity: identity, renewAfter: renewAfter, refreshToken: tokens.refreshToken)
                return { record in
                    if case .refused(let reason, let detail) = LoginAdmission.check(renewed.identity, against: client.provider) {
                        return Self.refuseAdmission(&record, identity: renewed.identity, entry: entry, reason: reason, detail: detail)
                    }
                    record.jwt = renewed.identity
                    return .proceed
                }
            } catch {
                try? sessions.end(session.key)
                return { record in
                    Self.challenge(
                        &record, browser: browser && (record.method == "GET" || record.method == "HEAD"), entry: entry, sessions: sessions,
                        because: "the provider refused to renew the session", now: now)
                }
            }
        }
    }

    /// 403 for a person the provider's `allowedDomains` / `allowedGroups` leave out: the body says
    /// only the reason code and the request id; who they are and why is in the decision record.
    static func refuseAdmission(
        _ record: inout RequestRecord, identity: VerifiedJWT, entry: LoginGate.Entry, reason: String, detail: String
    ) -> StageVerdict {
        record.jwt = identity
        record.decision = AccessDecision(outcome: .deny, policy: entry.policy, reason: "login not allowed (\(reason)): \(detail)")
        return .reject(GatehouseError(.loginNotAllowed, detail: "LoginPolicy \(entry.policy): \(detail)", reason: reason))
    }
}
