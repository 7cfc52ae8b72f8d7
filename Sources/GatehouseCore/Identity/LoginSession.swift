import Foundation

/// A person's session after logging in at the gateway, kept server-side (`LoginSessionStore`);
/// the browser holds only a sealed ticket naming it. Ending it here ends it for every copy of the cookie.
public struct LoginSession: Sendable, Hashable {
    /// SHA-256 of the ticket's id, hex: the database never holds a value a cookie could be made from.
    public var key: String
    /// The `extensionProviders` entry the person logged in with.
    public var provider: String
    /// The host the session was made on (the cookie is host-only and sealed to it).
    public var host: String
    /// The verified ID token's identity and claims: what `request.auth.*` sees.
    public var identity: VerifiedJWT
    /// Seconds since the epoch: the session's bounded lifetime ends here, whatever happens.
    public var expires: Int64
    /// Seconds since the epoch: after this the provider is asked again (refresh token), when it gave one.
    public var renewAfter: Int64
    public var refreshToken: String?

    public init(key: String, provider: String, host: String, identity: VerifiedJWT, expires: Int64, renewAfter: Int64, refreshToken: String? = nil) {
        self.key = key
        self.provider = provider
        self.host = host
        self.identity = identity
        self.expires = expires
        self.renewAfter = renewAfter
        self.refreshToken = refreshToken
    }
}

/// Where sessions are kept so they survive a restart (`SQLiteLoginSessions` in the state directory).
/// Calls block on disk I/O: make them off the event loops.
public protocol LoginSessionStore: Sendable {
    /// Every unexpired session, at start.
    func load(now: Int64) throws -> [LoginSession]
    func save(_ session: LoginSession) throws
    func delete(key: String) throws
}
