import Foundation
import JWTKit

/// An issuer's public keys, each bound to the one algorithm it may verify.
///
/// A key without `alg` is bound to every algorithm its type allows (RSA: RS and PS; EC and OKP:
/// the one their curve names), each as a separate signer, so no token can fix a key's algorithm
/// for the tokens after it (jwt-kit otherwise lets the first token seen fix a key's algorithm: one bogus token would make every valid one fail).
/// Private parts are dropped; encryption keys and keys jwt-kit cannot read are skipped.
struct KeySet: Sendable {
    struct Key: Sendable {
        let keyID: String?
        let algorithm: String
        let signer: JWTKeyCollection
    }

    let keys: [Key]
    /// Why keys were skipped, for the log.
    let skipped: [String]
    /// Set by `IssuerKeys` on each load, so a caller can tell a refreshed set from the one it had.
    var generation = 0

    static func load(jwksJSON: String) async throws -> KeySet {
        guard let document = try? JSONSerialization.jsonObject(with: Data(jwksJSON.utf8)) as? [String: Any],
              let entries = document["keys"] as? [Any] else {
            throw KeySetError(description: "not a JSON Web Key Set (no `keys` list)")
        }
        var keys: [Key] = []
        var skipped: [String] = []
        for (index, entry) in entries.enumerated() {
            guard var object = entry as? [String: Any] else { skipped.append("key \(index): not an object"); continue }
            if let use = object["use"] as? String, use != "sig" { continue }
            for privatePart in ["d", "p", "q", "dp", "dq", "qi"] { object.removeValue(forKey: privatePart) }
            let keyID = object["kid"] as? String
            let algorithms = Self.algorithms(for: object)
            guard !algorithms.isEmpty else {
                skipped.append("key \(keyID ?? "#\(index)"): no supported algorithm for kty \(object["kty"] ?? "?")")
                continue
            }
            for algorithm in algorithms {
                object["alg"] = algorithm
                object["kid"] = keyID ?? "gatehouse-key-\(index)"
                do {
                    let data = try JSONSerialization.data(withJSONObject: object)
                    let jwk = try JSONDecoder().decode(JWK.self, from: data)
                    let signer = JWTKeyCollection()
                    try await signer.add(jwk: jwk, isDefault: true)
                    keys.append(Key(keyID: keyID, algorithm: algorithm, signer: signer))
                } catch {
                    skipped.append("key \(keyID ?? "#\(index)") as \(algorithm): \(error)")
                }
            }
        }
        return KeySet(keys: keys, skipped: skipped)
    }

    /// The keys that may verify a token with this `alg` and `kid`: as Envoy, a key is passed over
    /// only when both it and the token name a key id and the two differ.
    func candidates(algorithm: String, keyID: String?) -> [Key] {
        keys.filter { $0.algorithm == algorithm && (keyID == nil || $0.keyID == nil || $0.keyID == keyID) }
    }

    func contains(keyID: String) -> Bool { keys.contains { $0.keyID == keyID } }

    private static func algorithms(for key: [String: Any]) -> [String] {
        if let declared = key["alg"] as? String {
            return UnverifiedToken.allowedAlgorithms.contains(declared) ? [declared] : []
        }
        switch (key["kty"] as? String, key["crv"] as? String) {
        case ("RSA", _): return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        case ("EC", "P-256"): return ["ES256"]
        case ("EC", "P-384"): return ["ES384"]
        case ("OKP", "Ed25519"): return ["EdDSA"]
        default: return []
        }
    }
}

struct KeySetError: Error, CustomStringConvertible {
    let description: String
}
