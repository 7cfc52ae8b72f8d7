import Crypto
import Foundation
import GatehouseCore
import Testing

@testable import GatehouseAuthentication

@Suite("Delegated tokens: issued at the token endpoint, accepted only as what they are")
struct DelegatedTokenTests {
    static let grant = DelegationGrant(
        audience: "fn.default.svc.cluster.local", subject: "https://idp.test/alice", subjectIssuer: "https://idp.test",
        chain: ActorChain(actors: ["spiffe://cluster.local/ns/default/sa/bot"]), scope: "read", email: "alice@example.com")

    @Test("A delegated token verifies as the person with the chain; an assertion does not pass as one; the cache answers after a verify")
    func roundTrip() async throws {
        let (issuer, _) = GatehouseIssuerTests.installed()
        let (token, lifetime) = try #require(await issuer.issueDelegatedToken(Self.grant))
        #expect(lifetime == 300)
        #expect(issuer.cachedIssued(token) == nil, "nothing is cached before the first verify")
        let jwt = try await issuer.verifyIssued(token, types: [IssuedTokenType.accessToken]).get()
        #expect(jwt.principal == "https://idp.test/alice")
        #expect(jwt.actors == ["spiffe://cluster.local/ns/default/sa/bot"])
        #expect(jwt.audiences == ["fn.default.svc.cluster.local"])
        #expect(jwt.claims["scope"] == .string("read"))
        #expect(issuer.cachedIssued(token)?.principal == "https://idp.test/alice")

        let assertion = try #require(await issuer.assertion(for: AssertionSubject(audience: "fn.default.svc.cluster.local", subject: "https://idp.test/alice", kind: .user)))
        #expect(await issuer.verifyIssued(assertion, types: [IssuedTokenType.accessToken]).failure == .wrongType, "an assertion is not a bearer token")
        #expect(issuer.cachedIssued(assertion) == nil)
        #expect(await issuer.verifyIssued(assertion, types: [IssuedTokenType.accessToken, IssuedTokenType.assertion]).failure == nil)
        #expect(issuer.cachedIssued(assertion) == nil, "assertions never enter the bearer cache")
    }

    @Test("Tampered, foreign-key and expired tokens are refused")
    func refusals() async throws {
        let clock = ManualClock()
        let (issuer, _) = GatehouseIssuerTests.installed(clock: clock)
        let (token, _) = try #require(await issuer.issueDelegatedToken(Self.grant))
        var parts = token.split(separator: ".").map(String.init)
        let payload = String(decoding: Base64URL.decode(Substring(parts[1]))!, as: UTF8.self).replacingOccurrences(of: "alice", with: "admin")
        parts[1] = Base64URL.encode(Array(payload.utf8))
        #expect(await issuer.verifyIssued(parts.joined(separator: "."), types: [IssuedTokenType.accessToken]).failure == .invalidSignature)

        let (other, _) = GatehouseIssuerTests.installed(clock: clock)
        let (foreign, _) = try #require(await other.issueDelegatedToken(Self.grant))
        #expect(await issuer.verifyIssued(foreign, types: [IssuedTokenType.accessToken]).failure == .unknownKey)

        clock.advance(seconds: 300 + 61)
        #expect(await issuer.verifyIssued(token, types: [IssuedTokenType.accessToken]).failure == .expired)
    }
}
