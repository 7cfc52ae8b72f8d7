import Crypto
import Foundation

/// A public key Gatehouse signs with, as its JWKS publishes it: an EC P-256 key bound to ES256,
/// named by its RFC 7638 thumbprint, with the certificate chain the mesh CA issued for it (`x5c`)
/// so a verifier can also check the key against the mesh's trust bundle.
public struct PublishedKey: Sendable, Hashable {
    public let kid: String
    /// The curve point's coordinates, base64url.
    public let x: String
    public let y: String
    /// Leaf first, each certificate's DER in standard base64 (RFC 7517 §4.7).
    public let certificateChain: [String]

    public init(publicKey: P256.Signing.PublicKey, certificateChain: [String]) {
        // x963: 0x04 ‖ X (32 bytes) ‖ Y (32 bytes).
        let point = Array(publicKey.x963Representation)
        x = Base64URL.encode(point[1..<33])
        y = Base64URL.encode(point[33..<65])
        // RFC 7638: the required members, lexicographic order, no whitespace.
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#
        kid = Base64URL.encode(SHA256.hash(data: Data(canonical.utf8)))
        self.certificateChain = certificateChain
    }

    /// The JWK (RFC 7517) as a JSON object: `alg` is always set, so no verifier lets a token choose it.
    var jwk: [String: Any] {
        var object: [String: Any] = ["kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"]
        if !certificateChain.isEmpty { object["x5c"] = certificateChain }
        return object
    }
}
