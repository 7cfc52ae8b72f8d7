/// An OpenID Connect provider people log in with, declared in `Mesh.spec.extensionProviders`
/// (`{name, oidc: {issuer, clientID, clientSecretFile, scopes, allowedDomains, allowedGroups, groupsClaim}}`);
/// LoginPolicies name it.
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
    /// Lower-case domain names. When not empty, only a person whose `email` claim is in one of them
    /// (and not marked `email_verified: false`) may log in.
    public var allowedDomains: [String]
    /// When not empty, only a person whose `groupsClaim` names one of these groups may log in.
    public var allowedGroups: [String]
    /// The ID token claim holding the person's groups (a list, or one string).
    public var groupsClaim: String

    public init(
        name: String, issuer: String, clientID: String, clientSecretFile: String, scopes: [String] = ["openid", "email", "profile"],
        allowedDomains: [String] = [], allowedGroups: [String] = [], groupsClaim: String = "groups"
    ) {
        self.name = name
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecretFile = clientSecretFile
        self.scopes = scopes.contains("openid") ? scopes : ["openid"] + scopes
        self.allowedDomains = allowedDomains.map { $0.lowercased() }
        self.allowedGroups = allowedGroups
        self.groupsClaim = groupsClaim
    }
}
