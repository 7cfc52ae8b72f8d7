/// A JWT that RequestAuthentication verified: the request's end-user identity and its claims,
/// as authorization policies see them (`request.auth.*`).
public struct VerifiedJWT: Sendable, Hashable {
    public var issuer: String
    public var subject: String
    public var audiences: [String]
    /// `azp`, the party the token was issued to.
    public var presenter: String?
    public var claims: [String: ClaimValue]
    /// `exp` and `nbf`, seconds since the Unix epoch, when present.
    public var expires: Int64?
    public var notBefore: Int64?
    /// Set for a token Gatehouse issued at its token endpoint: its `sub` is already the person's
    /// own `ISSUER/SUBJECT`, which policies match as they would the person's own token.
    public var delegatedPrincipal: String?

    public init(
        issuer: String, subject: String, audiences: [String] = [], presenter: String? = nil,
        claims: [String: ClaimValue] = [:], expires: Int64? = nil, notBefore: Int64? = nil, delegatedPrincipal: String? = nil
    ) {
        self.delegatedPrincipal = delegatedPrincipal
        self.issuer = issuer
        self.subject = subject
        self.audiences = audiences
        self.presenter = presenter
        self.claims = claims
        self.expires = expires
        self.notBefore = notBefore
    }

    /// `iss/sub`, Istio's request principal; for a delegated token, the person it was issued for.
    public var principal: String { delegatedPrincipal ?? "\(issuer)/\(subject)" }

    /// The agents acting for the subject (RFC 8693 `act`), the current one first; empty when none.
    public var actors: [String] { ActorChain(claim: claims["act"]).actors }
}

/// A JWT claim: a string, a list, a nested object. Numbers and booleans are kept as their JSON text.
public indirect enum ClaimValue: Sendable, Hashable {
    case string(String)
    case list([ClaimValue])
    case object([String: ClaimValue])

    /// The strings a condition compares with: a list's elements, a scalar itself.
    public var strings: [String] {
        switch self {
        case .string(let value): [value]
        case .list(let values): values.flatMap(\.strings)
        case .object: []
        }
    }
}

/// Claims as JSON (a claims file, a test case): strings, lists and objects; numbers and booleans as text.
extension ClaimValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode(Bool.self) { self = .string(value ? "true" : "false") }
        else if let value = try? container.decode(Int64.self) { self = .string(String(value)) }
        else if let value = try? container.decode(Double.self) { self = .string(String(value)) }
        else if let value = try? container.decode([ClaimValue].self) { self = .list(value) }
        else { self = .object(try container.decode([String: ClaimValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .list(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension VerifiedJWT {
    /// A token's claims taken as verified (`gatehouse explain --claims`, test cases).
    public init(claims: [String: ClaimValue]) {
        func text(_ name: String) -> String? { if case .string(let value) = claims[name] { value } else { nil } }
        self.init(
            issuer: text("iss") ?? "", subject: text("sub") ?? "", audiences: claims["aud"]?.strings ?? [],
            presenter: text("azp"), claims: claims, expires: text("exp").flatMap { Int64($0) },
            notBefore: text("nbf").flatMap { Int64($0) })
    }
}
