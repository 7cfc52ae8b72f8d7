import GatehouseCore
import Testing

@testable import GatehouseAuthentication

@Suite("Token exchange: the request, the chain and the scopes")
struct TokenExchangeRequestTests {
    static let base = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=a.b.c"
        + "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"

    static func parse(_ text: String) -> Result<TokenExchangeRequest, OAuthError> {
        do throws(OAuthError) { return .success(try TokenExchangeRequest(form: Array(text.utf8))) } catch { return .failure(error) }
    }

    static func refusal(_ text: String) -> OAuthError? {
        if case .failure(let error) = parse(text) { return error }
        return nil
    }

    @Test("A well-formed request is read: form decoding with + as a space, the target, narrowed scopes; audience and resource together")
    func wellFormed() throws {
        let both = try Self.parse(Self.base + "&audience=hello.default.svc.cluster.local&resource=http%3A%2F%2Fhello.default.example.com%2F").get()
        #expect(both.audience != nil && both.resource == "http://hello.default.example.com/")
        let request = try Self.parse(Self.base + "&audience=hello.default.svc.cluster.local&scope=read+write").get()
        #expect(request.subjectToken == "a.b.c")
        #expect(request.audience == "hello.default.svc.cluster.local")
        #expect(request.scope == ["read", "write"])
        #expect(request.requestedTokenType == TokenExchangeRequest.accessTokenType)
    }

    @Test("Each malformed request is refused with the RFC 6749 / 8693 error a client expects")
    func refusals() {
        let cases: [(String, OAuthError.Code, String)] = [
            ("subject_token=a.b.c", .invalidRequest, "exchange_missing_parameter"),
            ("grant_type=authorization_code&code=x", .unsupportedGrantType, "exchange_unsupported_grant"),
            (Self.base, .invalidTarget, "exchange_target_required"),
            (Self.base + "&audience=a&scope=", .invalidScope, "exchange_scope_empty"),
            (Self.base + "&audience=a&client_secret=hunter2", .invalidClient, "exchange_client_secret"),
            (Self.base + "&audience=a&actor_token=x.y.z", .invalidRequest, "exchange_unsupported_token_type"),
            (Self.base + "&audience=a&audience=b", .invalidRequest, "exchange_repeated_parameter"),
            (Self.base.replacingOccurrences(of: "token-type%3Ajwt", with: "token-type%3Asaml2") + "&audience=a", .invalidRequest, "exchange_unsupported_token_type"),
            (Self.base + "&audience=a&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token", .invalidRequest, "exchange_unsupported_token_type"),
            (Self.base + "&audience=a&client_assertion_type=basic", .invalidClient, "exchange_client_assertion_type"),
            (Self.base + "&audience=%ZZ", .invalidRequest, "exchange_malformed_form"),
            (Self.base + "&audience=a%0Db", .invalidRequest, "exchange_malformed_form"),
        ]
        for (text, code, reason) in cases {
            let error = Self.refusal(text)
            #expect(error?.code == code, "\(text)")
            #expect(error?.reason == reason, "\(text)")
        }
        #expect(Self.refusal(Self.base + "&audience=a&audience=b")?.description == "audience is given more than once")
        // A repeated name the caller made up is not echoed back.
        let invented = String(repeating: "x", count: 100)
        #expect(Self.refusal(Self.base + "&audience=a&\(invented)=1&\(invented)=2")?.description == "a parameter is given more than once")
        #expect(OAuthError(.invalidClient, reason: "x", "y").status == 401)
        #expect(OAuthError(.invalidScope, reason: "x", "y").status == 400)
    }

    @Test("The act chain nests outward-in (RFC 8693 §4.1) and reads back the same, bounded")
    func actorChain() {
        let chain = ActorChain(actors: []).adding("planner").adding("bot")
        #expect(chain.actors == ["bot", "planner"])
        #expect(chain.claim == .object(["sub": .string("bot"), "act": .object(["sub": .string("planner")])]))
        #expect(ActorChain(claim: chain.claim) == chain)
        #expect(ActorChain(claim: nil).isEmpty)
        #expect(ActorChain(claim: .string("bot")).isEmpty, "an act that is not an object names no one")
        var deep: ClaimValue = .object(["sub": .string("a0")])
        for index in 1..<100 { deep = .object(["sub": .string("a\(index)"), "act": deep]) }
        #expect(ActorChain(claim: deep).depth == ActorChain.maximumDepth)
        let jwt = VerifiedJWT(issuer: "https://gh", subject: "https://idp/alice", claims: ["act": chain.claim!], delegatedPrincipal: "https://idp/alice")
        #expect(jwt.principal == "https://idp/alice", "a delegated token's principal is the person's own")
        #expect(jwt.actors == ["bot", "planner"])
    }

    @Test("Scopes: none asked keeps the person's; asked ones must all be the person's (scope or scp)")
    func scopes() throws {
        let person = VerifiedJWT(issuer: "i", subject: "s", claims: ["scope": .string("read write")])
        #expect(try TokenExchange.scope(nil, of: person) == "read write")
        #expect(try TokenExchange.scope(["read"], of: person) == "read")
        #expect(throws: OAuthError.self) { try TokenExchange.scope(["read", "admin"], of: person) }
        let listed = VerifiedJWT(issuer: "i", subject: "s", claims: ["scp": .list([.string("read")])])
        #expect(try TokenExchange.scope(["read"], of: listed) == "read")
        let none = VerifiedJWT(issuer: "i", subject: "s")
        #expect(try TokenExchange.scope(nil, of: none) == nil)
        #expect(throws: OAuthError.self, "a person without scopes grants none") { try TokenExchange.scope(["read"], of: none) }
    }
}
