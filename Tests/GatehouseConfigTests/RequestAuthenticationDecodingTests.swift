import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Decoding RequestAuthentication and extension providers")
struct RequestAuthenticationDecodingTests {
    @Test("Istio's fields decode, with Istio's defaults")
    func decodes() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: security.istio.io/v1beta1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: prod}
            spec:
              selector: {matchLabels: {app: api}}
              jwtRules:
              - issuer: https://accounts.example.com
                audiences: [api, web]
                jwksUri: https://accounts.example.com/keys
                fromHeaders: [{name: X-JWT, prefix: "Token "}]
                fromParams: [jwt]
                fromCookies: [session]
                outputPayloadToHeader: x-jwt-payload
                outputClaimToHeaders: [{header: x-user, claim: sub}]
                forwardOriginalToken: true
                timeout: 2s
              - issuer: https://other.example.com
            ---
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              extensionProviders:
              - name: opa
                envoyExtAuthzHttp:
                  service: 127.0.0.1
                  port: 9191
                  statusOnError: "503"
                  failOpen: true
                  includeRequestHeadersInCheck: [Authorization]
            """, file: "ra.yaml")
        let policy = try #require(snapshot.requestAuthentications.first)
        #expect(policy.reference == "prod/jwt")
        #expect(policy.selector == ["app": "api"])
        let rule = try #require(policy.jwtRules.first)
        #expect(rule.audiences == ["api", "web"])
        #expect(rule.jwksURI == "https://accounts.example.com/keys")
        #expect(rule.fromHeaders == [.init(name: "x-jwt", prefix: "Token ")])
        #expect(rule.fromParams == ["jwt"] && rule.fromCookies == ["session"])
        #expect(rule.outputHeaders == ["x-jwt-payload", "x-user"])
        #expect(rule.forwardOriginalToken && rule.timeout == .seconds(2))
        let defaults = try #require(policy.jwtRules.last)
        #expect(defaults.usesDefaultLocations && !defaults.forwardOriginalToken && defaults.timeout == .seconds(5))
        #expect(defaults.jwksURI == nil && defaults.jwks == nil, "keys come from OIDC discovery")
        let provider = try #require(snapshot.mesh.extensionProviders.first)
        #expect(provider.name == "opa" && provider.port == 9191 && provider.statusOnError == 503 && provider.failOpen)
        #expect(provider.includeRequestHeadersInCheck == ["authorization"])
        #expect(!snapshot.notices.contains { $0.message.contains("RequestAuthentication") }, "enforced, not just accepted")
    }

    @Test("Mistakes are reported with their field and a fix", arguments: [
        ("  jwtRules: [{audiences: [a]}]", "spec.jwtRules[0].issuer", "add `issuer:` with the `iss` your tokens carry, e.g. https://accounts.example.com"),
        ("  jwtRules: [{issuer: accounts}]", "spec.jwtRules[0].issuer", "add `jwksUri:` (where the keys are published) or `jwks:` (the keys inline)"),
        ("  jwtRules: [{issuer: a, jwksUri: \"ftp://x/keys\"}]", "spec.jwtRules[0].jwksUri", "write the URL of the issuer's JWKS, e.g. https://issuer.example.com/.well-known/jwks.json"),
        ("  jwtRules: [{issuer: a, jwks: \"{}\"}]", "spec.jwtRules[0].jwks", "paste the issuer's JWKS document, e.g. {\"keys\": [{\"kty\": \"RSA\", …}]}"),
        ("  jwtRules: [{issuer: https://a, outputPayloadToHeader: \"x jwt\"}]", "spec.jwtRules[0].outputPayloadToHeader", "use letters, digits and `-`, e.g. x-jwt-payload"),
        ("  jwtRules: [{issuer: https://a, forwardOriginalToken: \"yes\"}]", "spec.jwtRules[0].forwardOriginalToken", "write true or false without quotes"),
        ("  jwtRules: [{issuer: https://a, jwksUri: \"https://a/k\", jwks: '{\"keys\": []}'}]", "spec.jwtRules[0].jwks", "keep one: inline keys or the URL they are fetched from"),
        ("  jwtRules: [{issuer: https://a, fromHeader: [{name: x}]}]", "spec.jwtRules[0].fromHeader", "did you mean `fromHeaders`?"),
    ])
    func mistakes(_ spec: String, _ field: String, _ fix: String) {
        let found = diagnostics("apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: r}\nspec:\n" + spec + "\n")
        #expect(found.first?.field == field, "\(found)")
        #expect(found.first?.fix == fix, "\(found)")
    }
}
