import Crypto
import Foundation

/// Join tokens: 32 random bytes, base64url, with a prefix secret scanners and people recognize.
/// The store keeps only a token's SHA-256.
enum JoinTokens {
    static let prefix = "ghjoin_"
    /// How long a token lives unless asked otherwise, and the most it may.
    static let defaultLifetime: Duration = .seconds(3600)
    static let maxLifetime: Duration = .seconds(24 * 3600)
    /// How long a node's intermediate CA lives; a node past it joins again with a new token.
    static let intermediateLifetime: Duration = .seconds(365 * 24 * 3600)

    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
