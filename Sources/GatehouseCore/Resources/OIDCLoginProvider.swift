/// An OpenID Connect provider people log in with, declared in `Mesh.spec.extensionProviders`
/// (`{name, oidc: {issuer, clientID, clientSecretFile, scopes}}`); LoginPolicies name it.
public struct OIDCLoginProvider: Hashable, Sendable {
    public var name: String
    /// The provider's issuer URL: its discovery document is `ISSUER/.well-known/openid-configuration`,
    /// and its ID tokens' `iss` must equal it.
    public var issuer: String
    public var clientID: String
    /// An absolute path; the secret is read when the config is applied and never logged.
    public var clientSecretFile: String
    /// Always includes `openid`.
    public var scopes: [String]

    public init(name: String, issuer: String, clientID: String, clientSecretFile: String, scopes: [String] = ["openid", "email", "profile"]) {
        self.name = name
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecretFile = clientSecretFile
        self.scopes = scopes.contains("openid") ? scopes : ["openid"] + scopes
    }
}
