import GatehouseConfig
import GatehouseCore
import Testing

/// `Mesh.spec.trustDomainAliases` (Istio's `meshConfig.trustDomainAliases`) and the policy key that
/// names an external client certificate.
@Suite("Decoding the Mesh's trust domain aliases")
struct TrustDomainAliasesTests {
    @Test("Aliases are read beside the trust domain; together they are the mesh's trust domains")
    func aliases() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              trustDomain: example.org
              trustDomainAliases: [old.example.org, partner.example]
            """, file: "mesh.yaml")
        #expect(snapshot.mesh.trustDomainAliases == ["old.example.org", "partner.example"])
        #expect(snapshot.mesh.meshTrustDomains == ["example.org", "old.example.org", "partner.example"])
        #expect(try ConfigLoader.load(yaml: "apiVersion: gatehouse.dev/v1\nkind: Mesh\nmetadata: {name: mesh}\nspec: {}\n", file: "m.yaml")
            .mesh.meshTrustDomains == ["cluster.local"])
    }

    @Test("An alias that is not a trust domain is refused with its line and field")
    func badAlias() {
        let found = diagnostics("""
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              trustDomainAliases:
              - ok.example
              - "Partner Example"
            """, file: "mesh.yaml")
        #expect(found.map(\.field) == ["spec.trustDomainAliases[1]"], "\(found)")
        #expect(found.first?.location.line == 7)
    }

    @Test("when: connection.uri_san_peer_certificate is a known key")
    func certificateKey() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: partners, namespace: default}
            spec:
              rules:
              - when: [{key: connection.uri_san_peer_certificate, values: ["spiffe://partner.example/*"]}]
            """, file: "p.yaml")
        #expect(snapshot.authorizationPolicies.first?.rules.first?.when.first?.key == "connection.uri_san_peer_certificate")
    }
}
