import Crypto
import CryptoExtras
import Foundation

/// A JWT issuer made up by a test: its own keys (RSA, EC or Ed25519), its JWKS, and tokens signed
/// the way a real issuer signs them — or, on request, the ways an attacker would forge them.
public struct TestIssuer: Sendable {
    public enum Algorithm: String, Sendable {
        case rs256 = "RS256", ps256 = "PS256", es256 = "ES256", es384 = "ES384", edDSA = "EdDSA"
    }

    public let issuer: String
    public let keyID: String
    public let algorithm: Algorithm
    private let rsa: _RSA.Signing.PrivateKey?
    private let p256: P256.Signing.PrivateKey?
    private let p384: P384.Signing.PrivateKey?
    private let ed25519: Curve25519.Signing.PrivateKey?

    public init(issuer: String = "https://issuer.test", keyID: String = "key-1", algorithm: Algorithm = .rs256) throws {
        self.issuer = issuer
        self.keyID = keyID
        self.algorithm = algorithm
        rsa = algorithm == .rs256 || algorithm == .ps256 ? try _RSA.Signing.PrivateKey(keySize: .bits2048) : nil
        p256 = algorithm == .es256 ? P256.Signing.PrivateKey() : nil
        p384 = algorithm == .es384 ? P384.Signing.PrivateKey() : nil
        ed25519 = algorithm == .edDSA ? Curve25519.Signing.PrivateKey() : nil
    }

    /// The public key as a JWK; `declaringAlgorithm: false` leaves `alg` out, as many issuers do.
    public func jwk(declaringAlgorithm: Bool = true) throws -> [String: String] {
        var key: [String: String] = ["kid": keyID, "use": "sig"]
        if declaringAlgorithm { key["alg"] = algorithm.rawValue }
        if let rsa {
            let primitives = try rsa.publicKey.getKeyPrimitives()
            key["kty"] = "RSA"
            key["n"] = Self.base64URL(primitives.modulus)
            key["e"] = Self.base64URL(primitives.publicExponent)
        } else if let p256 {
            let raw = p256.publicKey.rawRepresentation
            key.merge(["kty": "EC", "crv": "P-256", "x": Self.base64URL(raw.prefix(32)), "y": Self.base64URL(raw.suffix(32))]) { $1 }
        } else if let p384 {
            let raw = p384.publicKey.rawRepresentation
            key.merge(["kty": "EC", "crv": "P-384", "x": Self.base64URL(raw.prefix(48)), "y": Self.base64URL(raw.suffix(48))]) { $1 }
        } else if let ed25519 {
            key.merge(["kty": "OKP", "crv": "Ed25519", "x": Self.base64URL(ed25519.publicKey.rawRepresentation)]) { $1 }
        }
        return key
    }

    /// `{"keys": [...]}` for `jwks:` or a JWKS endpoint.
    public func jwks(declaringAlgorithm: Bool = true) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: ["keys": [try jwk(declaringAlgorithm: declaringAlgorithm)]], options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// A signed token. `claims` are merged over `iss`, `sub` and an `exp` an hour from now.
    public func token(subject: String = "alice", claims: [String: any Sendable] = [:], header: [String: any Sendable] = [:]) throws -> String {
        var payload: [String: Any] = ["iss": issuer, "sub": subject, "exp": Int(Date().timeIntervalSince1970) + 3600]
        for (name, value) in claims { payload[name] = value }
        var fullHeader: [String: Any] = ["alg": algorithm.rawValue, "typ": "JWT", "kid": keyID]
        for (name, value) in header { fullHeader[name] = value }
        let input = try Self.segment(fullHeader) + "." + Self.segment(payload)
        return input + "." + Self.base64URL(try sign(Data(input.utf8)))
    }

    private func sign(_ data: Data) throws -> Data {
        switch algorithm {
        case .rs256: try rsa!.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation
        case .ps256: try rsa!.signature(for: SHA256.hash(data: data), padding: .PSS).rawRepresentation
        case .es256: try p256!.signature(for: data).rawRepresentation
        case .es384: try p384!.signature(for: data).rawRepresentation
        case .edDSA: try ed25519!.signature(for: data)
        }
    }

    // MARK: Forgeries

    /// `alg: none` and no signature.
    public func unsignedToken(subject: String = "alice") throws -> String {
        let payload: [String: Any] = ["iss": issuer, "sub": subject, "exp": Int(Date().timeIntervalSince1970) + 3600]
        return try Self.segment(["alg": "none", "typ": "JWT"]) + "." + Self.segment(payload) + "."
    }

    /// HS256 with the issuer's public key (its JWK text) as the HMAC secret: the classic key-confusion attack.
    public func hmacWithPublicKey(subject: String = "alice") throws -> String {
        let payload: [String: Any] = ["iss": issuer, "sub": subject, "exp": Int(Date().timeIntervalSince1970) + 3600]
        let input = try Self.segment(["alg": "HS256", "typ": "JWT", "kid": keyID]) + "." + Self.segment(payload)
        let secret = SymmetricKey(data: Data(try jwks().utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: secret)
        return input + "." + Self.base64URL(Data(mac))
    }

    /// A valid token whose payload was then changed (the subject swapped), signature kept.
    public func tamperedToken(subject: String = "alice", to forged: String = "admin") throws -> String {
        let parts = try token(subject: subject).split(separator: ".").map(String.init)
        var payload = try JSONSerialization.jsonObject(with: Self.decode(parts[1])) as! [String: Any]
        payload["sub"] = forged
        return parts[0] + "." + (try Self.segment(payload)) + "." + parts[2]
    }

    /// A token whose header and claims are these JSON texts, byte for byte (repeated names and
    /// all), base64url-encoded and properly signed: what a careless or hostile issuer could send.
    public func token(headerJSON: String, payloadJSON: String) throws -> String {
        try token(headerSegment: Self.base64URL(Data(headerJSON.utf8)), payloadSegment: Self.base64URL(Data(payloadJSON.utf8)))
    }

    /// A token signed over these segments exactly as given (padded, say), signature canonical.
    public func token(headerSegment: String, payloadSegment: String) throws -> String {
        let input = headerSegment + "." + payloadSegment
        return input + "." + Self.base64URL(try sign(Data(input.utf8)))
    }

    /// The JSON header this issuer writes: `alg`, `typ` and `kid`.
    public var headerJSON: String { #"{"alg":"\#(algorithm.rawValue)","kid":"\#(keyID)","typ":"JWT"}"# }

    /// A valid token with its signature removed.
    public func strippedToken(subject: String = "alice") throws -> String {
        let parts = try token(subject: subject).split(separator: ".")
        return parts[0] + "." + parts[1] + "."
    }

    // MARK: Encoding

    public static func base64URL(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func segment(_ object: [String: Any]) throws -> String {
        base64URL(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    public static func decode(_ segment: String) -> Data {
        var text = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text) ?? Data()
    }
}

/// The SHA-256 of some bytes in lower-case hex (what the fixture function reports for a body).
public func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}
