import Foundation
import GatehouseCore

/// A compact JWS split into its parts, with the header fields and the issuer read before any
/// signature is checked — only to choose the rule and the key, never to trust anything.
struct UnverifiedToken {
    /// The algorithms Istio accepts; `none`, the HMAC family and everything else are refused.
    static let allowedAlgorithms: Set<String> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]

    let algorithm: String
    let keyID: String?
    let issuer: String?
    /// The payload segment as sent (base64url), forwarded by `outputPayloadToHeader`.
    let payloadSegment: Substring

    init(_ token: String) throws(AuthenticationFailure) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw .malformed }
        guard let headerData = Self.base64URLDecode(parts[0]),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
              let algorithm = header["alg"] as? String else { throw .malformed }
        guard Self.allowedAlgorithms.contains(algorithm) else { throw .unsupportedAlgorithm }
        guard !parts[2].isEmpty else { throw .invalidSignature }
        guard let payloadData = Self.base64URLDecode(parts[1]),
              let payload = try? JSONSerialization.jsonObject(with: payloadData) as? [String: Any] else { throw .malformed }
        self.algorithm = algorithm
        self.keyID = header["kid"] as? String
        self.issuer = payload["iss"] as? String
        self.payloadSegment = parts[1]
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

/// Why a token was refused: a short code that is safe to show the caller (it names no key, no
/// policy and no claim value) and a sentence for the operator.
public enum AuthenticationFailure: Error, Hashable, Sendable {
    case malformed
    case unsupportedAlgorithm
    case multipleTokens
    case issuerNotTrusted
    case unknownKey
    case keysUnavailable
    case invalidSignature
    case expired
    case notYetValid
    case audienceNotAllowed

    /// Sent to the caller (`reason` in the body, `error_description` in `WWW-Authenticate`).
    public var code: String {
        switch self {
        case .malformed: "jwt_malformed"
        case .unsupportedAlgorithm: "jwt_unsupported_algorithm"
        case .multipleTokens: "jwt_multiple_tokens"
        case .issuerNotTrusted: "jwt_issuer_not_trusted"
        case .unknownKey: "jwt_unknown_key"
        case .keysUnavailable: "jwt_keys_unavailable"
        case .invalidSignature: "jwt_signature_invalid"
        case .expired: "jwt_expired"
        case .notYetValid: "jwt_not_yet_valid"
        case .audienceNotAllowed: "jwt_audience_not_allowed"
        }
    }

    public var sentence: String {
        switch self {
        case .malformed: "the token is not a compact JWS with a JSON header and payload"
        case .unsupportedAlgorithm: "the token's algorithm is not one of RS256/384/512, PS256/384/512, ES256/384, EdDSA"
        case .multipleTokens: "the request carries more than one token"
        case .issuerNotTrusted: "no RequestAuthentication rule for this function trusts the token's issuer"
        case .unknownKey: "no key of the issuer matches the token's kid and algorithm"
        case .keysUnavailable: "the issuer's keys could not be fetched"
        case .invalidSignature: "the signature does not verify"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet (nbf)"
        case .audienceNotAllowed: "the token's audience is not one the rule accepts"
        }
    }
}
