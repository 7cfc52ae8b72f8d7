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
    /// The header's `typ` (RFC 7515 §4.1.9): `at+jwt` marks a token Gatehouse issued to be presented.
    let type: String?
    /// The payload segment as sent (base64url), forwarded by `outputPayloadToHeader`.
    let payloadSegment: Substring

    /// Refuses, before any key is looked at, what RFC 7515/7519 say a receiver must refuse or may
    /// refuse and Gatehouse does: segments that are not canonical base64url, a `crit` header (no
    /// extension is understood), and repeated member names in the header or the claims.
    init(_ token: String) throws(AuthenticationFailure) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw .malformed }
        guard let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
              let signatureBytes = Base64URL.decode(parts[2]) else { throw .notCanonicalEncoding }
        let header = try Self.object(headerBytes)
        guard let algorithm = header["alg"] as? String else { throw .malformed }
        guard Self.allowedAlgorithms.contains(algorithm) else { throw .unsupportedAlgorithm }
        // RFC 7515 §4.1.11: a recipient must reject a token whose `crit` names an extension it does
        // not understand, and `crit` must be a non-empty list; Gatehouse understands none, so any
        // `crit` at all is refused.
        guard header["crit"] == nil else { throw .criticalExtension }
        guard !signatureBytes.isEmpty else { throw .invalidSignature }
        let payload = try Self.object(payloadBytes)
        self.algorithm = algorithm
        self.keyID = header["kid"] as? String
        self.issuer = payload["iss"] as? String
        self.type = header["typ"] as? String
        self.payloadSegment = parts[1]
    }

    /// A JSON object whose member names are distinct at every depth.
    private static func object(_ bytes: [UInt8]) throws(AuthenticationFailure) -> [String: Any] {
        switch JSONMemberNames.check(bytes) {
        case .duplicate: throw .duplicateMember
        case .invalid: throw .malformed
        case nil: break
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { throw .malformed }
        return object
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
    /// A segment is not canonical base64url without padding (RFC 7515 §2).
    case notCanonicalEncoding
    /// The header has `crit` (RFC 7515 §4.1.11): no extension is understood.
    case criticalExtension
    /// The header or the claims repeat a member name (RFC 7519 §4).
    case duplicateMember
    /// A token Gatehouse issued, of a `typ` not accepted here (an assertion presented as a bearer token).
    case wrongType

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
        case .notCanonicalEncoding: "jwt_malformed_encoding"
        case .criticalExtension: "jwt_unsupported_crit"
        case .duplicateMember: "jwt_duplicate_member"
        case .wrongType: "jwt_wrong_type"
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
        case .notCanonicalEncoding: "a segment of the token is not canonical base64url without padding"
        case .criticalExtension: "the token's header has crit, naming extensions Gatehouse does not implement"
        case .duplicateMember: "the token's header or claims repeat a member name"
        case .wrongType: "the token's typ is not accepted here: only a delegated token (at+jwt) is a bearer token, never an X-Gatehouse-Assertion"
        }
    }
}
