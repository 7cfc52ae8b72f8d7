/// A refusal at the token endpoint, as RFC 6749 §5.2 shapes it: `error` is one of the standard
/// codes OAuth clients branch on; `reason` is Gatehouse's own fixed code (as on every refusal);
/// `description` says what to fix and names no token, key or claim value.
public struct OAuthError: Error, Sendable, Hashable {
    public enum Code: String, Sendable {
        case invalidRequest = "invalid_request"
        case invalidClient = "invalid_client"
        case invalidGrant = "invalid_grant"
        case unauthorizedClient = "unauthorized_client"
        case unsupportedGrantType = "unsupported_grant_type"
        case invalidScope = "invalid_scope"
        /// RFC 8693 §2.2.2: the audience or resource is unknown or not allowed.
        case invalidTarget = "invalid_target"
        /// Not an RFC 6749 code: the issuer's keys are not loaded (503, retry).
        case temporarilyUnavailable = "temporarily_unavailable"
    }

    public var code: Code
    public var reason: String
    public var description: String
    /// For the operator only (the access and audit logs): which policies were asked and what they lacked.
    public var detail: String?

    public init(_ code: Code, reason: String, _ description: String, detail: String? = nil) {
        self.code = code
        self.reason = reason
        self.description = description
        self.detail = detail
    }

    /// 401 when the client did not authenticate (RFC 6749 §5.2), 503 when Gatehouse cannot sign, else 400.
    public var status: Int {
        switch code {
        case .invalidClient: 401
        case .temporarilyUnavailable: 503
        default: 400
        }
    }
}
