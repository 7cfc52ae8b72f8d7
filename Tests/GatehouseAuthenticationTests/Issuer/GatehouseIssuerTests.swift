import Crypto
import Foundation
@testable import GatehouseAuthentication
import GatehouseCore
import Logging
import Synchronization
import Testing

/// A clock a test moves by hand.
final class ManualClock: Sendable {
    // Starts at the real time: the verifier the tests use checks `nbf`/`exp` against it.
    private let now = Mutex(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
    var date: Date { now.withLock { $0 } }
    func advance(seconds: TimeInterval) { now.withLock { $0 += seconds } }
    var read: @Sendable () -> Date { { self.date } }
}

func record(jwt: VerifiedJWT? = nil, peer: PeerIdentity? = nil, routed: Bool = true) -> RequestRecord {
    var record = RequestRecord(
        requestId: "r1", startWallNanos: 0, start: .now, method: "GET", path: "/", httpProtocol: "HTTP/1.1", authority: "fn.default.localhost")
    if routed { record.destination = FunctionDestination(spec: function) }
    record.jwt = jwt
    record.peer = peer
    return record
}

let alice = VerifiedJWT(
    issuer: "https://idp.test", subject: "alice",
    claims: ["email": .string("alice@example.com"), "groups": .list([.string("admins"), .string("dev")])])

@Suite("Gatehouse as an issuer: signing and caching assertions")
struct GatehouseIssuerTests {
    static func installed(clock: ManualClock = ManualClock(), capacity: Int = 10_000) -> (GatehouseIssuer, IssuerKeyRing) {
        let issuer = GatehouseIssuer(cacheCapacity: capacity, clock: clock.read)
        let ring = IssuerKeyRing(issuer: "http://gatehouse.localhost:8080", signing: AssertionSigningKey(key: P256.Signing.PrivateKey()))
        issuer.install(ring)
        return (issuer, ring)
    }

    /// Verifies a Gatehouse assertion with the project's own JWT verifier, from the published JWKS.
    static func verify(_ token: String, ring: IssuerKeyRing, audience: String = "fn.default.svc.cluster.local") async throws -> VerifiedJWT {
        let checker = authenticator([.init(issuer: ring.issuer, audiences: [audience], jwks: ring.jwksDocument)])
        let result = await authenticate(checker, .bearer(token))
        return try #require(result?.success?.jwt, "\(String(describing: result))")
    }

    @Test("An end user's assertion: iss, sub = iss/sub, aud = the function's service host, email, groups; ES256 with the published kid")
    func userAssertion() async throws {
        let clock = ManualClock()
        let (issuer, ring) = Self.installed(clock: clock)
        let subject = try #require(AssertionSubject(record: record(jwt: alice)))
        #expect(subject.audience == "fn.default.svc.cluster.local")
        let token = try #require(await issuer.assertion(for: subject))
        let header = try #require(JSONSerialization.jsonObject(with: Data(Base64URL.decode(token.split(separator: ".")[0])!)) as? [String: Any])
        #expect(header["alg"] as? String == "ES256")
        #expect(header["kid"] as? String == ring.signing.kid)
        let verified = try await Self.verify(token, ring: ring)
        #expect(verified.subject == "https://idp.test/alice")
        #expect(verified.claims["email"] == .string("alice@example.com"))
        #expect(verified.claims["groups"] == .list([.string("admins"), .string("dev")]))
        #expect(verified.claims["act"] == nil, "no delegation: no act claim")
        let expires = try #require(verified.expires)
        #expect(expires - Int64(clock.date.timeIntervalSince1970) == 60)
    }

    @Test("A mesh peer's assertion names its SPIFFE ID; a partner mesh's certificate and an anonymous caller get none")
    func subjects() throws {
        let peer = PeerIdentity(principal: "cluster.local/ns/default/sa/billing", uri: "spiffe://cluster.local/ns/default/sa/billing", certificateHash: "ab")
        let workload = try #require(AssertionSubject(record: record(peer: peer)))
        #expect(workload.subject == "spiffe://cluster.local/ns/default/sa/billing")
        #expect(workload.kind == .workload)
        let both = try #require(AssertionSubject(record: record(jwt: alice, peer: peer)))
        #expect(both.subject == "https://idp.test/alice", "the end user, whichever workload relayed the request")
        let partner = PeerIdentity(principal: nil, uri: "spiffe://partner.example/ns/x/sa/y", certificateHash: "cd")
        #expect(AssertionSubject(record: record(peer: partner)) == nil)
        #expect(AssertionSubject(record: record()) == nil)
        #expect(AssertionSubject(record: record(jwt: alice, routed: false)) == nil, "no function, no audience")
        var delegated = alice
        delegated.claims["act"] = .object(["sub": .string("spiffe://cluster.local/ns/agents/sa/bot")])
        #expect(AssertionSubject(record: record(jwt: delegated))?.actor == delegated.claims["act"])
    }

    @Test("The hot path signs nothing: one token per caller and function until half its life, then a new one")
    func caching() async throws {
        let clock = ManualClock()
        let (issuer, _) = Self.installed(clock: clock)
        let subject = try #require(AssertionSubject(record: record(jwt: alice)))
        guard case .needsSigning = issuer.cachedAssertion(for: subject) else { Issue.record("nothing signed yet"); return }
        let first = try #require(await issuer.assertion(for: subject))
        guard case .cached(let again) = issuer.cachedAssertion(for: subject) else { Issue.record("not cached"); return }
        #expect(again == first)
        var other = subject
        other.audience = "other.default.svc.cluster.local"
        guard case .needsSigning = issuer.cachedAssertion(for: other) else { Issue.record("another function shares a token"); return }
        var regrouped = subject
        regrouped.groups = ["admins"]
        guard case .needsSigning = issuer.cachedAssertion(for: regrouped) else { Issue.record("changed claims reuse a token"); return }
        clock.advance(seconds: 29)
        guard case .cached = issuer.cachedAssertion(for: subject) else { Issue.record("renewed too early"); return }
        clock.advance(seconds: 1)
        guard case .needsSigning = issuer.cachedAssertion(for: subject) else { Issue.record("kept past half its life"); return }
    }

    @Test("A new key empties the cache; the replaced key stays published, so its tokens still verify")
    func rotation() async throws {
        let (issuer, old) = Self.installed()
        let subject = try #require(AssertionSubject(record: record(jwt: alice)))
        let before = try #require(await issuer.assertion(for: subject))
        let next = IssuerKeyRing(issuer: old.issuer, signing: AssertionSigningKey(key: P256.Signing.PrivateKey()), previous: [old.signing.published])
        issuer.install(next)
        guard case .needsSigning = issuer.cachedAssertion(for: subject) else { Issue.record("a token of the old key handed out again"); return }
        #expect(try await Self.verify(before, ring: next).subject == "https://idp.test/alice")
        let after = try #require(await issuer.assertion(for: subject))
        #expect(try await Self.verify(after, ring: next).subject == "https://idp.test/alice")
        let keys = try #require(JSONSerialization.jsonObject(with: Data(next.jwksDocument.utf8)) as? [String: Any])["keys"] as? [[String: Any]]
        #expect(keys?.map { $0["kid"] as? String } == [next.signing.kid, old.signing.kid])
        #expect(keys?.allSatisfy { $0["alg"] as? String == "ES256" && $0["d"] == nil } == true, "explicit alg, no private part")
    }

    @Test("Without a key nothing is asserted; the cache is bounded")
    func unavailableAndBounded() async throws {
        let bare = GatehouseIssuer()
        let subject = try #require(AssertionSubject(record: record(jwt: alice)))
        guard case .unavailable = bare.cachedAssertion(for: subject) else { Issue.record("asserted without a key"); return }
        #expect(await bare.assertion(for: subject) == nil)
        let (issuer, _) = Self.installed(capacity: 4)
        for index in 0..<9 {
            var each = subject
            each.subject = "https://idp.test/user\(index)"
            _ = await issuer.assertion(for: each)
            #expect(issuer.cachedCount <= 4)
        }
    }

    @Test("Key ids are RFC 7638 thumbprints; base64url has one spelling")
    func thumbprint() throws {
        let key = P256.Signing.PrivateKey()
        let published = PublishedKey(publicKey: key.publicKey, certificateChain: [])
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(published.x)","y":"\#(published.y)"}"#
        #expect(published.kid == Base64URL.encode(SHA256.hash(data: Data(canonical.utf8))))
        #expect(published.x.count == 43 && published.y.count == 43)
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Base64URL.encode(bytes)
            #expect(Base64URL.decode(Substring(text)) == bytes)
            #expect(text == Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: ""))
        }
    }
}
