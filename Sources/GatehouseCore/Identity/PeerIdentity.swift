/// The identity a peer proved with its certificate over mutual TLS.
///
/// Only an SVID of the mesh's trust domain (or one of `Mesh.trustDomainAliases`) is a mesh
/// identity: it has a `principal`, from which `source.principal`, `source.namespace` and the
/// service account are read. A partner's client certificate on a MUTUAL Gateway — another trust
/// domain — is verified just as well but is *external*: no principal, so no `principals`,
/// `namespaces` or `serviceAccounts` rule can match it; policies see it only as
/// `connection.uri_san_peer_certificate`, and the function as the `URI=` of
/// `X-Forwarded-Client-Cert`. (Istio would let it match `principals` as `partner.example/ns/…`;
/// Gatehouse keeps another mesh's `/ns/X/sa/Y` from ever reading as one of its own namespaces.)
public struct PeerIdentity: Sendable, Hashable {
    /// Istio's principal: `cluster.local/ns/default/sa/billing`; nil for an external identity.
    public var principal: String?
    /// The certificate's URI SAN, the SPIFFE ID: `spiffe://cluster.local/ns/default/sa/billing`.
    public var uri: String
    /// SHA-256 of the peer's leaf certificate (DER), lower-case hex, as Envoy's XFCC `Hash=`.
    public var certificateHash: String

    public init(principal: String?, uri: String, certificateHash: String) {
        self.principal = principal
        self.uri = uri
        self.certificateHash = certificateHash
    }

    /// Verified, but from outside the mesh's trust domains.
    public var isExternal: Bool { principal == nil }
}
