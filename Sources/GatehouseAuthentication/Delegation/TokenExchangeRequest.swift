import Foundation

/// An RFC 8693 token exchange request, read from its `application/x-www-form-urlencoded` body.
/// Strict: each parameter at most once (RFC 6749 §3.2), the grant type and the subject token's
/// type named, one target (`audience` or `resource`).
public struct TokenExchangeRequest: Sendable {
    public static let grantType = "urn:ietf:params:oauth:grant-type:token-exchange"
    public static let jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    public static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
    public static let jwtTokenType = "urn:ietf:params:oauth:token-type:jwt"
    static let idTokenType = "urn:ietf:params:oauth:token-type:id_token"
    /// The token types Gatehouse reads: all of them JWTs.
    static let readableTypes: Set<String> = [accessTokenType, jwtTokenType, idTokenType]
    /// The largest form Gatehouse reads: three JWTs and a few names.
    public static let maxBodyBytes = 64 * 1024

    public var subjectToken: String
    public var subjectTokenType: String
    public var audience: String?
    public var resource: String?
    public var scope: [String]?
    /// `urn:…:access_token` (the default) or `urn:…:jwt`: the same token, named as asked.
    public var requestedTokenType: String
    /// The agent's own JWT, when it authenticates with one rather than with its SVID.
    public var clientAssertion: String?
    public var actorToken: String?

    public init(form body: [UInt8]) throws(OAuthError) {
        let fields = try Self.fields(body)
        func field(_ name: String) -> String? { fields[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let grant = field("grant_type") else {
            throw OAuthError(.invalidRequest, reason: "exchange_missing_parameter", "grant_type is required")
        }
        guard grant == Self.grantType else {
            throw OAuthError(.unsupportedGrantType, reason: "exchange_unsupported_grant", "this endpoint serves only \(Self.grantType)")
        }
        guard let subjectToken = field("subject_token"), let subjectTokenType = field("subject_token_type") else {
            throw OAuthError(.invalidRequest, reason: "exchange_missing_parameter", "subject_token and subject_token_type are required")
        }
        guard Self.readableTypes.contains(subjectTokenType) else {
            throw OAuthError(.invalidRequest, reason: "exchange_unsupported_token_type", "subject_token_type must name a JWT (access_token, jwt or id_token)")
        }
        self.subjectToken = subjectToken
        self.subjectTokenType = subjectTokenType
        audience = field("audience")
        resource = field("resource")
        guard audience != nil || resource != nil else {
            throw OAuthError(.invalidTarget, reason: "exchange_target_required", "name one function: audience (its service host) or resource (its URL)")
        }
        if let given = fields["scope"], given.split(separator: " ").isEmpty {
            throw OAuthError(.invalidScope, reason: "exchange_scope_empty", "scope is empty: leave it out to keep the person's scopes")
        }
        scope = field("scope").map { $0.split(separator: " ").map(String.init) }
        requestedTokenType = field("requested_token_type") ?? Self.accessTokenType
        guard requestedTokenType == Self.accessTokenType || requestedTokenType == Self.jwtTokenType else {
            throw OAuthError(.invalidRequest, reason: "exchange_unsupported_token_type", "requested_token_type must be access_token or jwt")
        }
        if let assertionType = field("client_assertion_type"), assertionType != Self.jwtBearerAssertion {
            throw OAuthError(.invalidClient, reason: "exchange_client_assertion_type", "client_assertion_type must be \(Self.jwtBearerAssertion)")
        }
        guard field("client_secret") == nil else {
            throw OAuthError(.invalidClient, reason: "exchange_client_secret", "client secrets are not accepted: authenticate with the agent's SVID or a client_assertion")
        }
        clientAssertion = field("client_assertion")
        actorToken = field("actor_token")
        if actorToken != nil {
            guard let actorType = field("actor_token_type"), Self.readableTypes.contains(actorType) else {
                throw OAuthError(.invalidRequest, reason: "exchange_unsupported_token_type", "actor_token needs actor_token_type naming a JWT")
            }
        }
    }

    /// Name–value pairs, percent-decoded with `+` as a space; a name given twice is refused.
    static func fields(_ body: [UInt8]) throws(OAuthError) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count == 2 ? parts[1] : []) else {
                throw OAuthError(.invalidRequest, reason: "exchange_malformed_form", "the body is not application/x-www-form-urlencoded")
            }
            guard fields.updateValue(value, forKey: name) == nil else {
                let named = name.count <= 32 && name.allSatisfy { $0.isLetter || $0 == "_" } ? name : "a parameter"
                throw OAuthError(.invalidRequest, reason: "exchange_repeated_parameter", "\(named) is given more than once")
            }
        }
        return fields
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) -> String? {
        let text = String(decoding: bytes.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
        guard let decoded = text.removingPercentEncoding, !decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            return nil
        }
        return decoded
    }
}
