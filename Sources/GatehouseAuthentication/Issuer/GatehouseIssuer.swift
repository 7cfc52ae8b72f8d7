import Foundation
import GatehouseCore
import JWTKit
import NIOConcurrencyHelpers

/// Gatehouse as an issuer of signed identity: it signs `X-Gatehouse-Assertion` for functions and
/// publishes its keys (JWKS) and metadata (RFC 8414). The key ring comes from the gateway
/// (`AssertionKeyStore`, in the state directory); until one is installed, nothing is signed and
/// the JWKS is empty.
///
/// Thread-safe; `cachedAssertion` is what the request path calls, on the event loop: a lock and
/// a dictionary probe. Signing happens only on a miss, off the loop (`assertion(for:)`).
public final class GatehouseIssuer: Sendable {
    /// How long an assertion is valid: a function must not keep trusting a caller for long.
    public let lifetime: Duration
    private let ring = NIOLockedValueBox<IssuerKeyRing?>(nil)
    private let cache: AssertionCache
    let clock: @Sendable () -> Date
    /// Checks the tokens Gatehouse issued when they come back (as bearer tokens, or to be exchanged again).
    let verifier = IssuedTokenVerifier()
    /// How long a token issued at the token endpoint is valid (RFC 8693 tokens are short-lived).
    public let delegatedLifetime: Duration

    public init(
        lifetime: Duration = .seconds(60), delegatedLifetime: Duration = .seconds(300), cacheCapacity: Int = 10_000,
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.lifetime = lifetime
        self.delegatedLifetime = delegatedLifetime
        cache = AssertionCache(capacity: cacheCapacity)
        self.clock = clock
    }

    /// Starts signing with `ring` (a new key, or a new issuer URL); tokens signed before stay valid
    /// as long as the ring still publishes their key, but none is handed out again.
    public func install(_ ring: IssuerKeyRing) {
        self.ring.withLockedValue { $0 = ring }
        cache.removeAll()
        verifier.install(ring)
    }

    public var keyRing: IssuerKeyRing? { ring.withLockedValue { $0 } }

    /// The issuer URL (`iss`), once keys are installed.
    public var issuer: String? { keyRing?.issuer }

    public enum Lookup: Sendable {
        /// A token signed earlier that is still good.
        case cached(String)
        /// None yet (or it is half-way through its life): `assertion(for:)` signs one.
        case needsSigning
        /// No key is installed: nothing can be asserted.
        case unavailable
    }

    /// On the event loop: never signs.
    public func cachedAssertion(for subject: AssertionSubject) -> Lookup {
        guard ring.withLockedValue({ $0 != nil }) else { return .unavailable }
        if let token = cache.token(for: subject, now: Int64(clock().timeIntervalSince1970)) { return .cached(token) }
        return .needsSigning
    }

    /// Signs an assertion for `subject` (jwt-kit, ES256) and keeps it for the next requests; nil
    /// when no key is installed or signing failed.
    public func assertion(for subject: AssertionSubject) async -> String? {
        guard let ring = keyRing else { return nil }
        let now = Int64(clock().timeIntervalSince1970)
        let seconds = lifetime.components.seconds
        do {
            let token = try await Self.sign(AssertionClaims(issuer: ring.issuer, subject: subject, issuedAt: now, lifetime: seconds), with: ring.signing)
            // A key installed meanwhile: this token is valid, but the cache is the new key's.
            if keyRing?.signing.kid == ring.signing.kid { cache.keep(token, for: subject, issuedAt: now, lifetime: seconds) }
            return token
        } catch {
            return nil
        }
    }

    static func sign(_ claims: some JWTPayload, with key: AssertionSigningKey, type: String = IssuedTokenType.assertion) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(backing: key.key), kid: JWKIdentifier(string: key.kid))
        var header = JWTHeader()
        header.typ = type
        return try await keys.sign(claims, kid: JWKIdentifier(string: key.kid), header: header)
    }

    /// Entries in the assertion cache (tests, metrics).
    public var cachedCount: Int { cache.count }
}
