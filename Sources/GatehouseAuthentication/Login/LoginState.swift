import Foundation

/// A login in progress, sealed into a short-lived cookie on the browser that started it: the
/// callback accepts `state` only from the browser holding this cookie (CSRF, login fixation), and
/// only once (`ConsumedStates`).
public struct LoginState: Codable, Sendable, Hashable {
    public var state: String
    public var nonce: String
    /// PKCE's verifier; the provider saw only its S256 challenge.
    public var verifier: String
    /// A same-host path (`ReturnPath`).
    public var returnTo: String
    public var provider: String
    /// The redirect URI sent to the provider, sent again at the token endpoint.
    public var redirectURI: String
    /// Seconds since the epoch.
    public var expires: Int64

    /// How long a browser may take at the provider.
    public static let lifetime: Int64 = 600
}
