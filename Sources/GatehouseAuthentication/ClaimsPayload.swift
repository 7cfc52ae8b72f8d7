import Foundation
import GatehouseCore
import JWTKit

/// A verified token's payload as JSON, turned into what policies see. Time, issuer and audience
/// are checked by `JWTAuthenticator` per rule (and on cache hits), so `verify` checks nothing.
struct ClaimsPayload: JWTPayload {
    let claims: [String: JSONClaim]

    init(from decoder: any Decoder) throws {
        claims = try decoder.singleValueContainer().decode([String: JSONClaim].self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(claims)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// The token as policies see it; nil when `exp` or `nbf` is present but not a number of seconds.
    var jwt: VerifiedJWT? {
        for name in ["exp", "nbf"] where claims[name] != nil && claims[name]?.seconds == nil { return nil }
        var values: [String: ClaimValue] = [:]
        for (name, claim) in claims { if let value = claim.value { values[name] = value } }
        let audiences: [String] = switch claims["aud"] {
        case .string(let audience): [audience]
        case .list(let list): list.compactMap { if case .string(let audience) = $0 { audience } else { nil } }
        default: []
        }
        return VerifiedJWT(
            issuer: claims["iss"]?.string ?? "", subject: claims["sub"]?.string ?? "", audiences: audiences,
            presenter: claims["azp"]?.string, claims: values, expires: claims["exp"]?.seconds,
            notBefore: claims["nbf"]?.seconds)
    }
}

enum JSONClaim: Codable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case list([JSONClaim])
    case object([String: JSONClaim])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONClaim].self) { self = .list(value) }
        else { self = .object(try container.decode([String: JSONClaim].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        case .list(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }

    var seconds: Int64? {
        guard case .number(let value) = self, value.isFinite, abs(value) < 1e15 else { return nil }
        return Int64(value)
    }

    /// Numbers and booleans become their JSON text, as Envoy presents them to RBAC.
    var value: ClaimValue? {
        switch self {
        case .string(let value): .string(value)
        case .number(let value): .string(value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value))
        case .bool(let value): .string(value ? "true" : "false")
        case .null: nil
        case .list(let values): .list(values.compactMap(\.value))
        case .object(let values): .object(values.compactMapValues(\.value))
        }
    }
}
