import Foundation

/// Verifies `X-Gatehouse-Assertion` the way a function would: with PyJWT (PyPI `PyJWT[crypto]`),
/// keys fetched from Gatehouse's published JWKS by `PyJWKClient`, ES256 only, audience and issuer
/// required. Independent of jwt-kit, which signed it.
public enum AssertionVerifier {
    static let requirement = "PyJWT[crypto]==2.10.1"

    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    /// Installs PyJWT if needed. Call it before asking Gatehouse for a token: a pip install on a
    /// loaded machine can outlast a short-lived token, which PyJWT then rightly refuses as expired.
    public static func prepare() async throws {
        try await PythonPackages.ensure(module: "jwt", requirement: requirement)
    }

    /// The verified claims; throws `Refused` with PyJWT's reason otherwise.
    public static func verify(_ token: String, jwksURL: String, audience: String, issuer: String) async throws -> [String: Any] {
        try await PythonPackages.ensure(module: "jwt", requirement: requirement)
        let script = """
            import json, sys, jwt
            token, url, audience, issuer = sys.argv[1:5]
            try:
                key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token)
                claims = jwt.decode(token, key.key, algorithms=["ES256"], audience=audience, issuer=issuer,
                                    options={"require": ["exp", "iat", "iss", "sub", "aud"]})
                print(json.dumps({"ok": True, "claims": claims}))
            except Exception as error:
                print(json.dumps({"ok": False, "error": type(error).__name__ + ": " + str(error)}))
            """
        let (_, output) = try await PythonPackages.runOffPool(["python3", "-c", script, token, jwksURL, audience, issuer])
        guard let object = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw Refused(description: "PyJWT printed no verdict: \(output)")
        }
        guard object["ok"] as? Bool == true, let claims = object["claims"] as? [String: Any] else {
            throw Refused(description: object["error"] as? String ?? "refused")
        }
        return claims
    }
}
