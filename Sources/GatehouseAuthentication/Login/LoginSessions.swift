import Crypto
import Foundation
import GatehouseCore
import NIOConcurrencyHelpers

/// The sessions of people logged in at the gateway: kept in memory for the request path (a lock and
/// a dictionary probe per request) and in a `LoginSessionStore` so they survive a restart. The
/// browser's cookie is a sealed `SessionTicket`; the server keeps only the SHA-256 of its id, so
/// deleting a session here ends it for every copy of the cookie.
public final class LoginSessions: Sendable {
    public let sealer: CookieSealer
    public let states = ConsumedStates()
    private let store: (any LoginSessionStore)?
    private let sessions = NIOLockedValueBox<[String: LoginSession]>([:])

    /// Memory only: the sessions end with the process (`explain`, tests of the pipeline).
    public init(sealer: CookieSealer) {
        self.sealer = sealer
        store = nil
    }

    public init(sealer: CookieSealer, store: (any LoginSessionStore)?, now: Int64 = Int64(Date().timeIntervalSince1970)) throws {
        self.sealer = sealer
        self.store = store
        let loaded = try store?.load(now: now) ?? []
        sessions.withLockedValue { sessions in
            for session in loaded { sessions[session.key] = session }
        }
    }

    /// A session is renewed (when it has a refresh token) once its ID token has less than this
    /// left, in seconds: the provider is asked before the token lapses, not a skew allowance
    /// after, so a person it has disabled is noticed within a token's lifetime. Tokens shorter
    /// than this are renewed at every request.
    public static let renewAhead: Int64 = 60

    /// When to ask the provider again: `renewAhead` before the token expires; a token without an
    /// expiry is taken to last `lifetime` seconds from `now`.
    public static func renewalTime(tokenExpires: Int64?, now: Int64, lifetime: Int64) -> Int64 {
        (tokenExpires ?? now + lifetime) - renewAhead
    }

    public static func key(for ticketID: String) -> String {
        SHA256.hash(data: Data(ticketID.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Why a session cookie names no one: said in the decision, never to the caller beyond its code.
    public enum Refusal: String, Error, Sendable {
        /// Not sealed by our keys for this host: forged, tampered with, or from another host.
        case unreadable = "session_cookie_invalid"
        case expired = "session_expired"
        /// Sealed by us, but the session was ended (logout) or never kept.
        case ended = "session_ended"
    }

    /// The session a cookie names, on the event loop (no I/O).
    public func session(cookie: Substring, host: String, now: Int64) -> Result<LoginSession, Refusal> {
        guard let plaintext = sealer.open(cookie, boundTo: host),
              let ticket = try? JSONDecoder().decode(SessionTicket.self, from: plaintext) else { return .failure(.unreadable) }
        guard ticket.expires > now else { return .failure(.expired) }
        let key = Self.key(for: ticket.id)
        guard let session = sessions.withLockedValue({ $0[key] }), session.host == host else { return .failure(.ended) }
        guard session.expires > now else { return .failure(.expired) }
        return .success(session)
    }

    /// Keeps a new session (off the loop: it writes to disk) and returns the cookie value naming it.
    public func begin(
        provider: String, host: String, identity: VerifiedJWT, lifetime: Int64, renewAfter: Int64, refreshToken: String?, now: Int64
    ) throws -> String {
        let id = PKCE.randomToken()
        let session = LoginSession(
            key: Self.key(for: id), provider: provider, host: host, identity: identity, expires: now + lifetime,
            renewAfter: min(renewAfter, now + lifetime), refreshToken: refreshToken)
        try store?.save(session)
        sessions.withLockedValue { $0[session.key] = session }
        let ticket = SessionTicket(id: id, expires: session.expires)
        return sealer.seal(try JSONEncoder().encode(ticket), boundTo: host)
    }

    /// Replaces a session's identity after a refresh (off the loop).
    public func renew(_ session: LoginSession, identity: VerifiedJWT, renewAfter: Int64, refreshToken: String?) throws -> LoginSession {
        var renewed = session
        renewed.identity = identity
        renewed.renewAfter = min(renewAfter, session.expires)
        renewed.refreshToken = refreshToken ?? session.refreshToken
        try store?.save(renewed)
        sessions.withLockedValue { $0[renewed.key] = renewed }
        return renewed
    }

    /// Ends a session everywhere (off the loop).
    public func end(_ key: String) throws {
        sessions.withLockedValue { _ = $0.removeValue(forKey: key) }
        try store?.delete(key: key)
    }

    public func seal(_ login: LoginState, host: String) -> String {
        sealer.seal((try? JSONEncoder().encode(login)) ?? Data(), boundTo: host)
    }

    public func openLogin(_ cookie: Substring, host: String) -> LoginState? {
        sealer.open(cookie, boundTo: host).flatMap { try? JSONDecoder().decode(LoginState.self, from: $0) }
    }

    public var count: Int { sessions.withLockedValue { $0.count } }
}
