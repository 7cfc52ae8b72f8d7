import Foundation
import GatehouseAuthentication
import GatehouseCore
import GatehouseOutbound
import GatehouseTesting
import Logging
import NIOPosix
import Testing

/// Headers as a test writes them; names compared without case.
struct Headers: RequestHeaders {
    var values: [(String, String)]
    init(_ values: [(String, String)] = []) { self.values = values }
    func first(_ name: String) -> String? { values.first { $0.0.lowercased() == name.lowercased() }?.1 }
    func joined(_ name: String) -> String? {
        let all = values.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
        return all.isEmpty ? nil : all.joined(separator: ",")
    }
    static func bearer(_ token: String) -> Headers { Headers([("Authorization", "Bearer " + token)]) }
}

let function = FunctionSpec(name: "fn", namespace: "default", labels: ["app": "fn"], process: .init(command: ["x"]))

func authenticator(
    _ rules: [RequestAuthenticationSpec.JWTRule], selector: [String: String]? = nil, namespace: String = "default",
    directory: KeyDirectory = KeyDirectory(client: testClient, logger: Logger(label: "test"))
) -> JWTAuthenticator {
    JWTAuthenticator(
        policies: [RequestAuthenticationSpec(namespace: namespace, name: "jwt", selector: selector, jwtRules: rules)],
        functions: [function], rootNamespace: "istio-system", directory: directory)
}

/// Runs both steps, as the request path does.
func authenticate(
    _ authenticator: JWTAuthenticator, _ headers: Headers, query: String? = nil
) async -> Result<JWTAuthenticator.Authenticated, AuthenticationFailure>? {
    switch authenticator.start(function: function.key, headers: headers, query: query.map { Substring($0) }) {
    case .anonymous: return nil
    case .finished(let result): return result
    case .verify(let pending): return await authenticator.verify(pending)
    }
}

extension Result {
    var failure: Failure? { if case .failure(let failure) = self { failure } else { nil } }
    var success: Success? { if case .success(let success) = self { success } else { nil } }
}

@Suite("RequestAuthentication: verifying JWTs")
struct JWTAuthenticatorTests {
    @Test("A token from a trusted issuer is verified for every supported algorithm; its principal is iss/sub")
    func algorithms() async throws {
        for algorithm in [TestIssuer.Algorithm.rs256, .ps256, .es256, .es384, .edDSA] {
            let issuer = try TestIssuer(algorithm: algorithm)
            let checker = authenticator([.init(issuer: issuer.issuer, jwks: try issuer.jwks())])
            let result = await authenticate(checker, .bearer(try issuer.token(subject: "alice", claims: ["aud": "api", "azp": "web"])))
            let jwt = try #require(result?.success?.jwt, "\(algorithm): \(String(describing: result))")
            #expect(jwt.principal == "https://issuer.test/alice")
            #expect(jwt.audiences == ["api"])
            #expect(jwt.presenter == "web")
        }
    }

    @Test("Forged and invalid tokens are refused, each with its reason")
    func hostileTokens() async throws {
        let issuer = try TestIssuer()
        let stranger = try TestIssuer(keyID: "other-key")
        let elsewhere = try TestIssuer(issuer: "https://evil.test")
        let checker = authenticator([.init(issuer: issuer.issuer, audiences: ["api"], jwks: try issuer.jwks())])
        let now = Int(Date().timeIntervalSince1970)
        let cases: [(String, String, AuthenticationFailure)] = [
            ("alg none", try issuer.unsignedToken(), .unsupportedAlgorithm),
            ("HS256 with the public key", try issuer.hmacWithPublicKey(), .unsupportedAlgorithm),
            ("unknown kid", try stranger.token(claims: ["aud": "api"]), .unknownKey),
            ("wrong issuer", try elsewhere.token(claims: ["aud": "api"]), .issuerNotTrusted),
            ("wrong audience", try issuer.token(claims: ["aud": "other"]), .audienceNotAllowed),
            ("no audience", try issuer.token(), .audienceNotAllowed),
            ("expired", try issuer.token(claims: ["aud": "api", "exp": now - 120]), .expired),
            ("not yet valid", try issuer.token(claims: ["aud": "api", "nbf": now + 600]), .notYetValid),
            ("tampered payload", try issuer.tamperedToken(), .invalidSignature),
            ("stripped signature", try issuer.strippedToken(), .invalidSignature),
            ("not a JWT", "not-a-jwt", .malformed),
            ("kid of a known key, other key's signature", try TestIssuer(keyID: "key-1").token(claims: ["aud": "api"]), .invalidSignature),
        ]
        for (name, token, expected) in cases {
            let result = await authenticate(checker, .bearer(token))
            #expect(result?.failure == expected, "\(name): \(String(describing: result))")
        }
        // Within the clock skew an expired token is still accepted, as Envoy does (60 s).
        let justExpired = await authenticate(checker, .bearer(try issuer.token(claims: ["aud": "api", "exp": now - 10])))
        #expect(justExpired?.success != nil)
    }

    @Test("A key without alg is bound to each RSA algorithm: a bogus PS256 token cannot break RS256 for everyone")
    func keyWithoutAlgorithm() async throws {
        let issuer = try TestIssuer()
        let checker = authenticator([.init(issuer: issuer.issuer, jwks: try issuer.jwks(declaringAlgorithm: false))])
        let bogus = try issuer.token(header: ["alg": "PS256"])  // RS256 signature under a PS256 header
        #expect(await authenticate(checker, .bearer(bogus))?.failure == .invalidSignature)
        #expect(await authenticate(checker, .bearer(try issuer.token()))?.success != nil)
        let ps = try TestIssuer(algorithm: .ps256)
        let psChecker = authenticator([.init(issuer: ps.issuer, jwks: try ps.jwks(declaringAlgorithm: false))])
        #expect(await authenticate(psChecker, .bearer(try ps.token()))?.success != nil)
    }

    @Test("No token passes without a principal; two different tokens are refused")
    func missingAndMultiple() async throws {
        let issuer = try TestIssuer()
        let checker = authenticator([.init(issuer: issuer.issuer, jwks: try issuer.jwks())])
        #expect(await authenticate(checker, Headers()) == nil)
        #expect(await authenticate(checker, Headers([("authorization", "Basic dXNlcjpwYXNz")])) == nil)
        let one = try issuer.token(subject: "a"), two = try issuer.token(subject: "b")
        #expect(await authenticate(checker, .bearer(one), query: "access_token=\(two)")?.failure == .multipleTokens)
        #expect(await authenticate(checker, .bearer(one), query: "access_token=\(one)")?.success != nil, "the same token twice is one token")
    }

    @Test("Every value of a token header counts: a Basic line cannot hide a Bearer line")
    func repeatedHeader() async throws {
        let issuer = try TestIssuer()
        let checker = authenticator([.init(issuer: issuer.issuer, jwks: try issuer.jwks())])
        let forged = Headers([("authorization", "Basic dXNlcjpwYXNz"), ("authorization", "Bearer " + (try issuer.tamperedToken()))])
        #expect(await authenticate(checker, forged)?.failure == .invalidSignature)
        let valid = Headers([("authorization", "Basic dXNlcjpwYXNz"), ("authorization", "Bearer " + (try issuer.token()))])
        #expect(await authenticate(checker, valid)?.success != nil)
    }

    @Test("A key without kid may verify a token that names one; exp must be a number")
    func keyIDsAndTimes() async throws {
        let issuer = try TestIssuer()
        var key = try issuer.jwk()
        key.removeValue(forKey: "kid")
        let jwks = String(decoding: try JSONSerialization.data(withJSONObject: ["keys": [key]]), as: UTF8.self)
        let checker = authenticator([.init(issuer: issuer.issuer, jwks: jwks)])
        #expect(await authenticate(checker, .bearer(try issuer.token()))?.success != nil)
        #expect(await authenticate(checker, .bearer(try issuer.token(claims: ["exp": "tomorrow"])))?.failure == .malformed)
    }

    @Test("Token locations: Istio's defaults, named headers with prefixes, query parameters and cookies")
    func locations() async throws {
        let issuer = try TestIssuer()
        let token = try issuer.token()
        let defaults = authenticator([.init(issuer: issuer.issuer, jwks: try issuer.jwks())])
        #expect(await authenticate(defaults, Headers([("authorization", "bearer " + token)]))?.success != nil)
        #expect(await authenticate(defaults, Headers(), query: "x=1&access_token=\(token)")?.success?.locations == [.param("access_token")])
        #expect(await authenticate(defaults, Headers([("x-jwt", token)])) == nil, "not a default location")

        let named = authenticator([.init(
            issuer: issuer.issuer, jwks: try issuer.jwks(), fromHeaders: [.init(name: "x-jwt", prefix: "Token ")],
            fromParams: ["jwt"], fromCookies: ["session"])])
        #expect(await authenticate(named, Headers([("X-JWT", "Token " + token)]))?.success?.locations == [.header("x-jwt")])
        #expect(await authenticate(named, Headers([("x-jwt", token)])) == nil, "without the prefix it is not a token")
        #expect(await authenticate(named, Headers(), query: "jwt=\(token)")?.success != nil)
        #expect(await authenticate(named, Headers([("cookie", "theme=dark; session=\(token)")]))?.success?.locations == [.cookie("session")])
        #expect(await authenticate(named, .bearer(token)) == nil, "named locations replace the defaults")
    }

    @Test("A verified token is remembered: the second request is answered on the event loop, with claims checked again")
    func cache() async throws {
        let issuer = try TestIssuer()
        let directory = KeyDirectory(client: testClient, logger: Logger(label: "test"))
        let checker = authenticator([.init(issuer: issuer.issuer, audiences: ["api"], jwks: try issuer.jwks())], directory: directory)
        let token = try issuer.token(claims: ["aud": "api"])
        guard case .verify = checker.start(function: function.key, headers: Headers.bearer(token), query: nil) else {
            Issue.record("a new token must be verified")
            return
        }
        #expect(await authenticate(checker, .bearer(token))?.success != nil)
        guard case .finished(.success) = checker.start(function: function.key, headers: Headers.bearer(token), query: nil) else {
            Issue.record("a verified token must come from the cache")
            return
        }
        // Another rule with other keys does not inherit the verification.
        let other = try TestIssuer()
        let stricter = authenticator([.init(issuer: issuer.issuer, audiences: ["api"], jwks: try other.jwks())], directory: directory)
        #expect(await authenticate(stricter, .bearer(token))?.failure == .invalidSignature)
        // Time is checked on every use: past its exp (plus skew) the cached token is refused.
        let later = Int64(Date().timeIntervalSince1970) + 3600 + 120
        guard case .verify = checker.start(function: function.key, headers: Headers.bearer(token), query: nil, now: later) else {
            Issue.record("an expired cache entry must not answer")
            return
        }
    }

    @Test("Outputs: payload and claims to headers, the token removed unless forwarded, forged output headers stripped")
    func outputs() async throws {
        let issuer = try TestIssuer()
        let rule = RequestAuthenticationSpec.JWTRule(
            issuer: issuer.issuer, jwks: try issuer.jwks(), outputPayloadToHeader: "x-jwt-payload",
            outputClaimToHeaders: [.init(header: "x-user", claim: "sub"), .init(header: "x-groups", claim: "groups")])
        let checker = authenticator([rule])
        #expect(checker.outputHeaders(for: function.key) == ["x-groups", "x-jwt-payload", "x-user"])
        let token = try issuer.token(subject: "alice", claims: ["groups": ["dev", "ops"]])
        let authenticated = try #require(await authenticate(checker, .bearer(token))?.success)
        var edits = HeaderEdits()
        authenticated.apply(to: &edits)
        let set = Dictionary(uniqueKeysWithValues: edits.set.map { ($0.name, $0.value) })
        #expect(set["x-user"] == "alice")
        #expect(set["x-groups"] == "dev,ops")
        #expect(set["x-jwt-payload"] == String(token.split(separator: ".")[1]))
        #expect(edits.remove == ["authorization"])

        var forwarding = rule
        forwarding.forwardOriginalToken = true
        var kept = HeaderEdits()
        try #require(await authenticate(authenticator([forwarding]), .bearer(token))?.success).apply(to: &kept)
        #expect(kept.remove.isEmpty)
    }

    @Test("Rules apply by selector and namespace, as AuthorizationPolicy scoping")
    func scoping() throws {
        let issuer = try TestIssuer()
        let rule = RequestAuthenticationSpec.JWTRule(issuer: issuer.issuer, jwks: try issuer.jwks())
        #expect(authenticator([rule]).hasRules(for: function.key))
        #expect(authenticator([rule], selector: ["app": "fn"]).hasRules(for: function.key))
        #expect(!authenticator([rule], selector: ["app": "other"]).hasRules(for: function.key))
        #expect(!authenticator([rule], namespace: "other").hasRules(for: function.key))
        #expect(authenticator([rule], namespace: "istio-system").hasRules(for: function.key), "root namespace: mesh-wide")
    }
}

/// One outbound client for the whole suite, on its own event loop (never shut down: it lives as
/// long as the test process, and an `HTTPClient` must not be released before its shutdown).
let testClient = ControlPlaneClient(eventLoopGroup: MultiThreadedEventLoopGroup(numberOfThreads: 1))
