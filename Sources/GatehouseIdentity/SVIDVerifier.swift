import Foundation
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509

/// Checks a peer's certificate chain as an X.509-SVID of this mesh: a path to a root of the trust
/// bundle (RFC 5280: signatures, validity, CA constraints) whose leaf is not a CA, may sign, and
/// names exactly one URI — a SPIFFE ID in this trust domain. Its result is the peer's SPIFFE ID.
public struct SVIDVerifier: Sendable {
    /// nil: any trust domain (a gateway server accepting SVIDs of other meshes from its CA files).
    public let trustDomain: String?
    public let bundle: [Certificate]

    public init(trustDomain: String?, bundle: [Certificate]) {
        self.trustDomain = trustDomain
        self.bundle = bundle
    }

    /// The peer's SPIFFE ID, or why the chain is refused. `validationTime`: when the chain must
    /// be valid (now for a peer; a signature's time for an audit checkpoint).
    public func verify(_ chain: [Certificate], at validationTime: Date = Date()) async -> Result<SPIFFEID, IdentityError> {
        guard let leaf = chain.first else { return .failure(IdentityError("no certificate")) }
        let id: SPIFFEID
        switch Self.spiffeID(of: leaf) {
        case .success(let found): id = found
        case .failure(let error): return .failure(error)
        }
        if let trustDomain, id.trustDomain != trustDomain {
            return .failure(IdentityError("trust domain \(id.trustDomain) is not \(trustDomain)"))
        }
        // Strict: an extension that does not parse refuses the certificate.
        let constraints: BasicConstraints?
        let usage: KeyUsage?
        let extended: ExtendedKeyUsage?
        do {
            constraints = try leaf.extensions.basicConstraints
            usage = try leaf.extensions.keyUsage
            extended = try leaf.extensions.extendedKeyUsage
        } catch {
            return .failure(IdentityError("the leaf has a malformed extension: \(error)"))
        }
        if case .isCertificateAuthority = constraints {
            return .failure(IdentityError("the leaf is a CA certificate"))
        }
        guard let usage, usage.digitalSignature, !usage.keyCertSign, !usage.cRLSign else {
            return .failure(IdentityError("the leaf may not sign (key usage must have digitalSignature, not keyCertSign or cRLSign)"))
        }
        if let extended, !extended.contains(.clientAuth) {
            return .failure(IdentityError("the leaf is not for client authentication (extended key usage)"))
        }
        var verifier = Verifier(rootCertificates: CertificateStore(bundle)) {
            RFC5280Policy(fixedExpiryValidationTime: validationTime)
            SPIFFELeafPolicy()
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst()))
        switch result {
        case .validCertificate: return .success(id)
        case .couldNotValidate(let failures):
            let reason = failures.first.map { "\($0.policyFailureReason)" } ?? "no path to a trusted root"
            return .failure(IdentityError("chain not trusted: \(reason)"))
        }
    }

    /// The one SPIFFE ID a leaf names; more than one URI, or none, is refused.
    public static func spiffeID(of leaf: Certificate) -> Result<SPIFFEID, IdentityError> {
        guard let names = try? leaf.extensions.subjectAlternativeNames else {
            return .failure(IdentityError("no subject alternative names"))
        }
        let uris = names.compactMap { name -> String? in
            if case .uniformResourceIdentifier(let uri) = name { uri } else { nil }
        }
        guard uris.count == 1 else { return .failure(IdentityError("\(uris.count) URI SANs; an SVID has exactly one")) }
        guard let id = SPIFFEID(uris[0]) else { return .failure(IdentityError("URI SAN \(uris[0]) is not a SPIFFE ID")) }
        return .success(id)
    }
}

/// Lets the verifier accept the critical SAN extension SVIDs carry (RFC 5280 policy leaves SANs to
/// the application); the SPIFFE checks themselves are made by `SVIDVerifier` on the leaf.
struct SPIFFELeafPolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName, .X509ExtensionID.extendedKeyUsage]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult { .meetsPolicy }
}
