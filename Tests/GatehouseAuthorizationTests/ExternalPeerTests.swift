import GatehouseAuthorization
import GatehouseCore
import Testing

/// A partner's client certificate (another trust domain, on a MUTUAL Gateway) is verified but is
/// not a mesh identity: it has no source principal, so source rules cannot match it; policies
/// name it by `connection.uri_san_peer_certificate`.
@Suite("AuthorizationPolicy: external client certificates")
struct ExternalPeerTests {
    typealias Spec = AuthorizationPolicySpec
    typealias T = AuthorizationEngineTests

    static let partner = AuthorizationRequest(
        method: "GET", host: "fn.foo.localhost", path: "/", destinationPort: 8443, sourceIP: "10.1.2.3",
        peerCertificateURI: "spiffe://partner.example/ns/foo/sa/invoicer")
    static let meshPeer = AuthorizationRequest(
        method: "GET", host: "fn.foo.localhost", path: "/", destinationPort: 8443, sourceIP: "10.1.2.3",
        sourcePrincipal: "cluster.local/ns/foo/sa/web", peerCertificateURI: "spiffe://cluster.local/ns/foo/sa/web")

    func decide(_ rules: [Spec.Rule], _ request: AuthorizationRequest, action: Spec.Action = .allow) -> AccessDecision.Outcome {
        let engine = AuthorizationEngine(
            policies: [T.policy("p", action, rules: rules)], functions: [T.fn], rootNamespace: "istio-system")
        return engine.decide(request, function: T.fn.key).outcome
    }

    @Test("principals, namespaces and serviceAccounts never match a partner's certificate, whatever its path says")
    func sourceRules() {
        #expect(decide([T.from { $0.principals = .init(["partner.example/ns/foo/sa/invoicer"]) }], Self.partner) == .deny)
        #expect(decide([T.from { $0.principals = .init(["*"]) }], Self.partner) == .deny)
        #expect(decide([T.from { $0.namespaces = .init(["foo"]) }], Self.partner) == .deny)
        #expect(decide([T.from { $0.serviceAccounts = .init(["foo/invoicer"]) }], Self.partner) == .deny)
        #expect(decide([T.when("source.namespace", ["foo"])], Self.partner) == .deny)
        #expect(decide([T.when("source.principal", ["*"])], Self.partner) == .deny)
        // "Require a mesh identity" (DENY notPrincipals *) refuses it too.
        #expect(decide([T.from { $0.principals = .init(not: ["*"]) }], Self.partner, action: .deny) == .deny)
        #expect(decide([T.from { $0.principals = .init(not: ["*"]) }], Self.meshPeer, action: .deny) == .allow)
    }

    @Test("connection.uri_san_peer_certificate names the certificate, mesh or external, with Istio's string forms")
    func certificateURI() {
        let partners = [T.when("connection.uri_san_peer_certificate", ["spiffe://partner.example/*"])]
        #expect(decide(partners, Self.partner) == .allow)
        #expect(decide(partners, Self.meshPeer) == .deny)
        let exact = [T.when("connection.uri_san_peer_certificate", ["spiffe://partner.example/ns/foo/sa/invoicer"])]
        #expect(decide(exact, Self.partner) == .allow)
        #expect(decide(exact, T.request()) == .deny, "plaintext has no certificate")
    }
}
