import Crypto
import Foundation
import GatehouseIdentity
import Testing
import X509

@Suite("X.509-SVIDs: issuing and verifying")
struct SVIDVerifierTests {
    let authority = try! CertificateAuthority.create(trustDomain: "cluster.local")
    var verifier: SVIDVerifier { SVIDVerifier(trustDomain: "cluster.local", bundle: [authority.root]) }
    let client = SPIFFEID(trustDomain: "cluster.local", namespace: "default", serviceAccount: "client")

    /// A leaf under `authority` with the given SANs and flags.
    func leaf(
        uris: [String], isCA: Bool = false, signing: Bool = true, from: Date = Date() - 60, until: Date = Date() + 3600,
        by issuer: CertificateAuthority? = nil
    ) throws -> Certificate {
        let key = P256.Signing.PrivateKey()
        return try (issuer ?? authority).sign(
            publicKey: Certificate.PublicKey(key.publicKey), notValidBefore: from, notValidAfter: until,
            extensions: try Certificate.Extensions {
                Critical(isCA ? BasicConstraints.isCertificateAuthority(maxPathLength: nil) : BasicConstraints.notCertificateAuthority)
                Critical(signing ? KeyUsage(digitalSignature: true) : KeyUsage(keyEncipherment: true))
                if !uris.isEmpty { SubjectAlternativeNames(uris.map { GeneralName.uniformResourceIdentifier($0) }) }
            })
    }

    @Test("An issued SVID follows the spec and verifies to its principal")
    func issued() async throws {
        let identity = try authority.issueIdentity(client, lifetime: .seconds(24 * 3600))
        let certificate = identity.certificate
        #expect(try certificate.extensions.subjectAlternativeNames?.count == 1)
        #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try certificate.extensions.keyUsage?.digitalSignature == true)
        #expect(try certificate.extensions.extendedKeyUsage?.contains(.clientAuth) == true)
        #expect(try certificate.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        #expect(certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore) <= 24 * 3600 + 60)
        let result = await verifier.verify([certificate])
        #expect((try? result.get())?.principal == "cluster.local/ns/default/sa/client")
    }

    @Test("Refused: expired, another CA, no SPIFFE URI, two URIs, a CA leaf, another trust domain, not for signing")
    func refusals() async throws {
        let other = try CertificateAuthority.create(trustDomain: "cluster.local")
        let uri = client.description
        let cases: [(String, Certificate, String)] = [
            ("expired", try leaf(uris: [uri], from: Date() - 7200, until: Date() - 3600), "chain not trusted"),
            ("another CA", try leaf(uris: [uri], by: other), "chain not trusted"),
            ("no SPIFFE URI", try leaf(uris: []), "no subject alternative names"),
            ("an https URI", try leaf(uris: ["https://example.com"]), "is not a SPIFFE ID"),
            ("two URIs", try leaf(uris: [uri, "spiffe://cluster.local/ns/x/sa/y"]), "2 URI SANs"),
            ("CA:TRUE leaf", try leaf(uris: [uri], isCA: true), "the leaf is a CA certificate"),
            ("another trust domain", try leaf(uris: ["spiffe://other.example/ns/default/sa/client"]), "trust domain other.example"),
            ("not for signing", try leaf(uris: [uri], signing: false), "key usage must have digitalSignature"),
        ]
        for (name, certificate, reason) in cases {
            let result = await verifier.verify([certificate])
            guard case .failure(let error) = result else {
                Issue.record("\(name) was accepted")
                continue
            }
            #expect(error.description.contains(reason), "\(name): \(error)")
        }
    }

    @Test("SPIFFE IDs parse by the spec's rules")
    func ids() {
        #expect(SPIFFEID("spiffe://cluster.local/ns/a/sa/b")?.principal == "cluster.local/ns/a/sa/b")
        for bad in ["https://cluster.local/ns/a", "spiffe://Cluster.local/x", "spiffe:///x", "spiffe://td/a//b", "spiffe://td/a/../b", "spiffe://td/a?x=1"] {
            #expect(SPIFFEID(bad) == nil, "\(bad)")
        }
    }
}
