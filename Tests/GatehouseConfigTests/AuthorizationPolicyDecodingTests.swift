import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Decoding AuthorizationPolicy")
struct AuthorizationPolicyDecodingTests {
    @Test("Every field Istio documents is read")
    func fullPolicy() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata:
              name: httpbin
              namespace: foo
              annotations: {istio.io/dry-run: "true"}
            spec:
              selector: {matchLabels: {app: httpbin}}
              action: DENY
              rules:
              - from:
                - source:
                    principals: ["cluster.local/ns/default/sa/sleep"]
                    notNamespaces: ["test"]
                    ipBlocks: ["10.0.0.0/8"]
                    notRemoteIpBlocks: ["192.0.2.7"]
                    requestPrincipals: ["*"]
                to:
                - operation: {methods: ["GET"], notPaths: ["/info*"], hosts: ["a.example"], ports: ["8080"]}
                when:
                - key: request.auth.claims[groups]
                  values: ["admins"]
                - key: source.ip
                  notValues: ["10.1.0.0/16"]
            """, file: "p.yaml")
        let policy = try #require(snapshot.authorizationPolicies.first)
        #expect(policy.reference == "foo/httpbin")
        #expect(policy.dryRun)
        #expect(policy.selector == ["app": "httpbin"])
        #expect(policy.action == .deny)
        let rule = try #require(policy.rules.first)
        #expect(rule.from.first?.principals.values == ["cluster.local/ns/default/sa/sleep"])
        #expect(rule.from.first?.namespaces.notValues == ["test"])
        #expect(rule.from.first?.remoteIpBlocks.notValues == ["192.0.2.7"])
        #expect(rule.to.first?.paths.notValues == ["/info*"])
        #expect(rule.to.first?.ports.values == ["8080"])
        #expect(rule.when.map(\.key) == ["request.auth.claims[groups]", "source.ip"])
        #expect(rule.when.last?.match.notValues == ["10.1.0.0/16"])
        #expect(!snapshot.notices.contains { $0.message.contains("AuthorizationPolicy") }, "it is enforced, not just accepted")
    }

    @Test("Mistakes are reported with their field and a fix", arguments: [
        ("  rules: [{to: [{operation: {method: [GET]}}]}]", "spec.rules[0].to[0].operation.method", "did you mean `methods`?"),
        ("  rules: [{from: [{source: {ipBlocks: [\"10.0.0.0/33\"]}}]}]", "spec.rules[0].from[0].source.ipBlocks[0]", "write e.g. \"10.0.0.0/8\" or \"192.0.2.7\""),
        ("  rules: [{when: [{key: \"request.header[x]\", values: [a]}]}]", "spec.rules[0].when[0].key", "did you mean `request.headers`?"),
        ("  rules: [{when: [{key: source.ip}]}]", "spec.rules[0].when[0].values", "add `values: [\"…\"]`"),
        ("  action: CUSTOM", "spec.provider", "add `provider: {name: …}` naming one of the Mesh's extensionProviders"),
        ("  action: DENY\n  provider: {name: x}", "spec.provider", "remove it, or write `action: CUSTOM`"),
        ("  action: CUSTOM\n  provider: {name: ext}", "spec.provider.name", "add it to the Mesh's `extensionProviders` (envoyExtAuthzHttp with service and port)"),
        ("  action: ALOW", "spec.action", "write `action: ALLOW`"),
        ("  rules: [{to: [{operation: {ports: [\"http\"]}}]}]", "spec.rules[0].to[0].operation.ports[0]", "write a port number between 1 and 65535, e.g. \"8080\""),
        ("  selector: {matchLabels: {app: a}}\n  targetRefs: [{kind: Service, name: a}]", "spec.targetRefs", "keep one of them"),
        ("  rules: [{from: []}]", "spec.rules[0].from", "remove `from` to match any source, or list at least one"),
        ("  rules: [{to: [{operation: {}}]}]", "spec.rules[0].to[0].operation", "name at least one of hosts, ports, methods, paths (or their not forms)"),
        ("  targetRefs: [{kind: Deployment, name: a}]", "spec.targetRefs[0].kind", "use `kind: Service` (or `kind: Function` with `group: gatehouse.dev`) and the function's name, or `kind: Broker` and a Broker's name"),
    ])
    func mistakes(_ spec: String, _ field: String, _ fix: String) {
        let found = diagnostics("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n" + spec + "\n")
        #expect(found.first?.field == field, "\(found)")
        #expect(found.first?.fix == fix, "\(found)")
    }
}
