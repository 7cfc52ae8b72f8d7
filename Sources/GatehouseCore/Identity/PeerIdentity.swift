/// The workload identity a peer proved with its certificate over mutual TLS.
public struct PeerIdentity: Sendable, Hashable {
    /// Istio's principal: `cluster.local/ns/default/sa/billing`.
    public var principal: String
    /// The SPIFFE ID: `spiffe://cluster.local/ns/default/sa/billing`.
    public var uri: String
    /// SHA-256 of the peer's leaf certificate (DER), lower-case hex, as Envoy's XFCC `Hash=`.
    public var certificateHash: String

    public init(principal: String, uri: String, certificateHash: String) {
        self.principal = principal
        self.uri = uri
        self.certificateHash = certificateHash
    }
}
