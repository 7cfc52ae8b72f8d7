import GatehouseConfig
import GatehouseCore
import Testing

/// Path templates Istio refuses (`CheckValidPathTemplate`) are refused at load, with file, line and field.
@Suite("Decoding AuthorizationPolicy: path templates")
struct PathTemplateDecodingTests {
    func policy(_ field: String, _ path: String) -> String {
        """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: p, namespace: default}
        spec:
          rules:
          - to:
            - operation:
                methods: [GET]
                \(field): ["\(path)"]

        """
    }

    @Test("Refused: {**} before another operator, templates beside globs or text, unknown or unbalanced braces", arguments: [
        "/{**}/{*}", "/{**}/{**}", "/a/{**}/b/{*}",
        "/a/{*}/b*", "*/{*}", "/{*}/b/*", "/{**}/**",
        "/a{*}", "/{*}.txt", "/{**}x/b", "/files/{*}.json",
        "/{name}", "/{}", "/{x=*}/{**}", "/{*}/a{", "/{*}/a}/b", "/users/{id}",
        "/{*}/?q", "/a//{*}",
    ])
    func refused(_ path: String) {
        for field in ["paths", "notPaths"] {
            let found = diagnostics(policy(field, path), file: "policies/p.yaml")
            #expect(found.count == 1, "\(path): \(found)")
            let diagnostic = found.first
            #expect(diagnostic?.field == "spec.rules[0].to[0].operation.\(field)[0]", "\(path): \(found)")
            #expect(diagnostic?.location.file == "policies/p.yaml")
            #expect(diagnostic?.location.line == 9, "\(path): the line of the path")
            #expect(diagnostic?.fix != nil)
        }
    }

    @Test("Accepted, as Istio accepts them", arguments: [
        "/users/{*}/orders", "/files/{**}", "/{*}/foo/", "/a/{**}/b", "{*}", "/v1/{*}/x:y@z=1",
        "/api/*", "*.json", "*", "/plain/path",
    ])
    func accepted(_ path: String) throws {
        let snapshot = try ConfigLoader.load(yaml: policy("paths", path), file: "p.yaml")
        #expect(snapshot.authorizationPolicies.first?.rules.first?.to.first?.paths.values == [path])
    }
}
