import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Decoding Gateway")
struct GatewayDecodingTests {
    @Test("HTTPS servers decode with files resolved from the YAML file; hosts match exactly, by suffix, or all")
    func decodes() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8443, name: https, protocol: HTTPS}
                hosts: ["shop/*.shop.localhost", "hello.default.localhost"]
                tls: {mode: SIMPLE, serverCertificate: certs/server.pem, privateKey: certs/server.key}
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["*"]
            """, file: "/etc/gatehouse/gateway.yaml")
        let gateway = try #require(snapshot.gateways.first)
        let https = gateway.servers[0]
        #expect(https.port == 8443 && https.tls?.mode == .simple && https.tls?.serverCertificate == "/etc/gatehouse/certs/server.pem")
        #expect(https.serves("cart.shop.localhost") && https.serves("HELLO.default.localhost") && !https.serves("other.localhost"))
        #expect(gateway.servers[1].serves("anything"))
    }

    @Test("Mistakes are reported with their field and a fix", arguments: [
        ("- port: {number: 8443, protocol: HTTPS}\n    hosts: [\"*\"]\n", "spec.servers.tls", "add `tls: {mode: SIMPLE, credentialName: NAME}` or serverCertificate/privateKey files"),
        ("- port: {number: 8443, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: {mode: PASSTHROUGH, credentialName: c}\n", "spec.servers.tls.mode", "write SIMPLE or MUTUAL"),
        ("- port: {number: 8443, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: {mode: MUTUAL, serverCertificate: a.pem, privateKey: a.key}\n", "spec.servers.tls.caCertificates", "add `caCertificates: ca.pem` (or a credentialName whose directory has ca.crt)"),
        ("- port: {number: 8443, protocol: GRPC}\n    hosts: [\"*\"]\n", "spec.servers.port.protocol", "write HTTP or HTTPS"),
        ("- port: {number: 8443, protocol: HTTPS}\n    hosts: []\n    tls: {credentialName: c}\n", "spec.servers.hosts", "write `hosts: [\"*\"]` to serve every function"),
    ])
    func mistakes(_ server: String, _ field: String, _ fix: String) {
        let found = diagnostics("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  servers:\n  " + server)
        #expect(found.first?.field.replacingOccurrences(of: "[0]", with: "") == field, "\(found)")
        #expect(found.first?.fix == fix, "\(found)")
    }
}

@Suite("Decoding the Mesh's admin identities")
struct AdminIdentitiesDecodingTests {
    @Test("SPIFFE IDs and the listener decode; anything else is reported")
    func decodes() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              identity: {adminIdentities: ["spiffe://cluster.local/ns/ops/sa/deployer"]}
              listeners: {adminMtls: "127.0.0.1:15999"}
            """, file: "mesh.yaml")
        #expect(snapshot.mesh.adminIdentities == ["spiffe://cluster.local/ns/ops/sa/deployer"])
        #expect(snapshot.mesh.adminMtls == ListenAddress(host: "127.0.0.1", port: 15999))
        let found = diagnostics("apiVersion: gatehouse.dev/v1\nkind: Mesh\nmetadata: {name: mesh}\nspec:\n  identity: {adminIdentities: [\"ops/deployer\"]}\n")
        #expect(found.first?.fix == "write e.g. \"spiffe://cluster.local/ns/ops/sa/deployer\"", "\(found)")
    }
}

@Suite("Decoding RateLimitPolicy")
struct RateLimitPolicyDecodingTests {
    @Test("A bucket, a cap, a caller key and targets decode")
    func decodes() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: gatehouse.dev/v1
            kind: RateLimitPolicy
            metadata: {name: limits, namespace: shop}
            spec:
              targetRefs: [{kind: Function, name: cart}]
              routes: [checkout]
              perCaller: sourcePrincipal
              tokenBucket: {maxTokens: 100, tokensPerFill: 10, fillInterval: 1s}
              maxConcurrentRequests: 5
            """, file: "limits.yaml")
        let policy = try #require(snapshot.rateLimits.first)
        #expect(policy.functions == ["cart"] && policy.routes == ["checkout"] && policy.perCaller == .sourcePrincipal)
        #expect(policy.tokenBucket == .init(maxTokens: 100, tokensPerFill: 10, fillInterval: .seconds(1)) && policy.maxConcurrentRequests == 5)
    }

    @Test("Mistakes are reported with their field and a fix", arguments: [
        ("  perCaller: sourcePrincipl\n  maxConcurrentRequests: 1", "spec.perCaller", "write `perCaller: sourcePrincipal`"),
        ("  tokenBucket: {maxTokens: 5, tokensPerFill: 10, fillInterval: 1s}", "spec.tokenBucket.tokensPerFill", "write at most 5"),
        ("  tokenBucket: {maxTokens: 0, fillInterval: 1s}", "spec.tokenBucket.maxTokens", "write e.g. 10"),
        ("  perCaller: none", "spec.tokenBucket", "add `tokenBucket: {maxTokens: 100, tokensPerFill: 100, fillInterval: 1s}` or `maxConcurrentRequests: 10`"),
    ])
    func mistakes(_ spec: String, _ field: String, _ fix: String) {
        let found = diagnostics("apiVersion: gatehouse.dev/v1\nkind: RateLimitPolicy\nmetadata: {name: r}\nspec:\n" + spec + "\n")
        #expect(found.first?.field == field, "\(found)")
        #expect(found.first?.fix == fix, "\(found)")
    }
}
