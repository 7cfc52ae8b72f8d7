import Crypto
import Foundation
@testable import GatehouseAuthentication
import GatehouseCore
import Testing

@Suite("Issuer stages: the assertion header and the well-known documents")
struct IssuerStagesTests {
    @Test("A verified caller's request carries X-Gatehouse-Assertion: signed off the loop once, then from the cache")
    func assertionStage() async throws {
        let (issuer, ring) = GatehouseIssuerTests.installed()
        let stage = IssueAssertion(issuer: issuer)
        var first = record(jwt: alice)
        guard case .suspend(let work) = stage.process(&first, headers: Headers()) else { Issue.record("a miss must sign off the loop"); return }
        let resume = await work()
        guard case .proceed = resume(&first) else { Issue.record("refused"); return }
        let token = try #require(first.upstreamHeaders.set.first { $0.name == IdentityHeaders.assertion }?.value)
        #expect(try await GatehouseIssuerTests.verify(token, ring: ring).subject == "https://idp.test/alice")

        var second = record(jwt: alice)
        guard case .proceed = stage.process(&second, headers: Headers()) else { Issue.record("a hit must not suspend"); return }
        #expect(second.upstreamHeaders.set.first { $0.name == IdentityHeaders.assertion }?.value == token)

        var anonymous = record()
        guard case .proceed = stage.process(&anonymous, headers: Headers()) else { Issue.record("anonymous refused"); return }
        #expect(anonymous.upstreamHeaders.isEmpty)

        var explained = record(jwt: alice)
        let explanation = stage.explain(&explained, headers: Headers())
        #expect(explanation.details["sub"] == .string("https://idp.test/alice"))
        #expect(explained.upstreamHeaders.isEmpty, "explain signs and sets nothing")
    }

    @Test("The JWKS and RFC 8414 metadata answer on any host before routing; read only; other paths pass")
    func documents() throws {
        let (issuer, ring) = GatehouseIssuerTests.installed()
        let stage = ServeIssuerDocuments(issuer: issuer)
        func run(_ method: String, _ path: String) -> StageVerdict {
            var record = RequestRecord(
                requestId: "r", startWallNanos: 0, start: .now, method: method, path: path, httpProtocol: "HTTP/1.1", authority: "anything.example")
            return stage.process(&record, headers: Headers())
        }
        guard case .respond(let jwks) = run("GET", "/.well-known/jwks.json?x=1") else { Issue.record("no JWKS"); return }
        #expect(jwks.status == 200 && jwks.body == ring.jwksDocument)
        #expect(jwks.headers.contains { $0.name == "cache-control" })
        guard case .respond(let metadata) = run("GET", "/.well-known/oauth-authorization-server") else { Issue.record("no metadata"); return }
        let object = try #require(JSONSerialization.jsonObject(with: Data(metadata.body.utf8)) as? [String: Any])
        #expect(object["issuer"] as? String == "http://gatehouse.localhost:8080")
        #expect(object["jwks_uri"] as? String == "http://gatehouse.localhost:8080/.well-known/jwks.json")
        guard case .respond(let post) = run("POST", "/.well-known/jwks.json") else { Issue.record("POST answered by a function"); return }
        #expect(post.status == 405)
        guard case .proceed = run("GET", "/.well-known/openid-configuration") else { Issue.record("another document taken"); return }
        guard case .proceed = run("GET", "/") else { Issue.record("ordinary path taken"); return }
    }
}
