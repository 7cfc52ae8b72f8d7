import Foundation

/// What Gatehouse as an issuer is at one moment: its issuer URL, the key it signs with, and every
/// key a token it issued may still carry (the current one first, then the one it replaced, kept
/// until that key's last tokens have expired). The two documents it serves are rendered once here,
/// not per request.
public struct IssuerKeyRing: Sendable {
    /// `iss` of everything Gatehouse signs, and the base of its metadata (RFC 8414 §2).
    public let issuer: String
    public let signing: AssertionSigningKey
    public let published: [PublishedKey]
    /// `GET /.well-known/jwks.json`.
    public let jwksDocument: String
    /// `GET /.well-known/oauth-authorization-server`.
    public let metadataDocument: String

    public init(issuer: String, signing: AssertionSigningKey, previous: [PublishedKey] = []) {
        self.issuer = issuer
        self.signing = signing
        published = [signing.published] + previous.filter { $0.kid != signing.kid }
        jwksDocument = Self.json(["keys": published.map(\.jwk)])
        metadataDocument = Self.json(Self.metadata(issuer: issuer))
    }

    /// RFC 8414 metadata: what an OAuth client needs to find the keys and the token endpoint
    /// (RFC 8693 exchange; agents authenticate with their SVID or a JWT of their own).
    static func metadata(issuer: String) -> [String: Any] {
        [
            "issuer": issuer,
            "jwks_uri": issuer + IssuerPaths.jwks,
            "token_endpoint": issuer + IssuerPaths.token,
            "grant_types_supported": [TokenExchangeRequest.grantType],
            "token_endpoint_auth_methods_supported": ["tls_client_auth", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "id_token_signing_alg_values_supported": ["ES256"],
        ]
    }

    static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
