import Crypto
import Foundation

/// Random values of the authorization-code flow: PKCE's verifier and S256 challenge (RFC 7636),
/// `state`, `nonce` and session ids — 32 random bytes each, base64url.
public enum PKCE {
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// `BASE64URL(SHA256(ASCII(verifier)))`, RFC 7636 §4.2.
    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(SHA256.hash(data: Data(verifier.utf8)))
    }
}
