/// Headers that tell a function who is calling. Only Gatehouse sets them, from what it verified:
/// a client's own are removed on arrival (the listener, the in-process invoker), before any stage.
public enum IdentityHeaders {
    /// The caller's identity signed by Gatehouse (a JWT, ES256; see docs/reference/loginpolicy.md).
    public static let assertion = "x-gatehouse-assertion"
    /// Envoy's `X-Forwarded-Client-Cert`: the verified mesh peer.
    public static let clientCertificate = "x-forwarded-client-cert"
}
