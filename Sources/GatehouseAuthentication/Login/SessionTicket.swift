import Foundation

/// What the session cookie holds, sealed: the id of a session kept server-side and when the cookie
/// stops being accepted. Claims stay server-side, so the cookie stays small (about 150 bytes).
public struct SessionTicket: Codable, Sendable, Hashable {
    /// 32 random bytes, base64url; the server keeps only its SHA-256.
    public var id: String
    /// Seconds since the epoch.
    public var expires: Int64
}
