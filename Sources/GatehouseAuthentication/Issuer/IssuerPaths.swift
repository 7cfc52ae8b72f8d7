/// The paths Gatehouse answers itself on every host of its listeners, before routing: its
/// published keys and its OAuth authorization server metadata. A function cannot serve these paths.
public enum IssuerPaths {
    /// The JWKS (RFC 7517) of the keys that sign `X-Gatehouse-Assertion`; the metadata's `jwks_uri`.
    public static let jwks = "/.well-known/jwks.json"
    /// RFC 8414 metadata (`issuer`, `jwks_uri`).
    public static let metadata = "/.well-known/oauth-authorization-server"
    /// RFC 8693 token exchange (`token_endpoint` in the metadata): POST only.
    public static let token = "/.gatehouse/oauth2/token"
    /// RFC 9728 metadata of a protected function, on its own host (and with a path suffix).
    public static let protectedResource = "/.well-known/oauth-protected-resource"
}
