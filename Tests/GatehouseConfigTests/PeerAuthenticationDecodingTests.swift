import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Decoding PeerAuthentication")
struct PeerAuthenticationDecodingTests {
    @Test("Modes, selector and port-level modes decode")
    func decodes() throws {
        let snapshot = try ConfigLoader.load(yaml: """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: api, namespace: shop}
            spec:
              selector: {matchLabels: {app: api}}
              mtls: {mode: STRICT}
              portLevelMtls:
                8080: {mode: PERMISSIVE}
            """, file: "pa.yaml")
        let policy = try #require(snapshot.peerAuthentications.first)
        #expect(policy.mode == .strict && policy.selector == ["app": "api"] && policy.portModes == [8080: .permissive])
    }

    @Test("Mistakes are reported with their field and a fix", arguments: [
        ("  mtls: {mode: STRIKT}", "spec.mtls.mode", "write `mode: STRICT`"),
        ("  portLevelMtls: {8080: {mode: DISABLE}}", "spec.portLevelMtls", "add `selector: {matchLabels: …}` naming the function"),
        ("  selector: {matchLabels: {app: a}}\n  portLevelMtls: {http: {mode: DISABLE}}", "spec.portLevelMtls", "write a port number between 1 and 65535"),
    ])
    func mistakes(_ spec: String, _ field: String, _ fix: String) {
        let found = diagnostics("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\nspec:\n" + spec + "\n")
        #expect(found.first?.field == field, "\(found)")
        #expect(found.first?.fix == fix, "\(found)")
    }
}
