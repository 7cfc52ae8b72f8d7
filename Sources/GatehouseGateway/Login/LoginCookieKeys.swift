import Foundation
import GatehouseAuthentication
import GatehouseIdentity

/// The keys that seal Gatehouse's login cookies, in `STATE_DIR/login/cookie-keys` (0600, in a 0700
/// directory): one line per key, `ID HEX_KEY CREATED` (seconds since the epoch), the current first,
/// the previous second. Kept across restarts, so sessions survive them.
///
/// Rotation happens at start: a current key older than `rotation` becomes the previous one (cookies
/// it sealed still open) and a new one seals from then on; the key before is forgotten. An operator
/// rotates at once by restarting with a shorter age, or by deleting the file (every session ends).
enum LoginCookieKeys {
    /// As long as the longest session (`sessionLifetime` at most 720 h), so a cookie outlives at most one rotation.
    static let rotation: Int64 = 30 * 24 * 3600

    struct Stored {
        var key: CookieSealer.Key
        var created: Int64
    }

    /// The sealer for this start: the stored keys, rotated when the current one is too old, written back.
    static func load(directory: URL, now: Int64 = Int64(Date().timeIntervalSince1970), rotation: Int64 = rotation) throws -> CookieSealer {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let file = directory.appendingPathComponent("cookie-keys")
        var keys = FileManager.default.fileExists(atPath: file.path) ? try read(file) : []
        if keys.isEmpty || now - keys[0].created >= rotation {
            let id = (keys.first?.key.id ?? 0) &+ 1
            keys = [Stored(key: .random(id: id), created: now)] + keys.prefix(1)
            try CertificateAuthority.writePrivate(
                keys.map { "\($0.key.id) \($0.key.bytes.map { String(format: "%02x", $0) }.joined()) \($0.created)" }.joined(separator: "\n") + "\n",
                to: file)
        }
        return CookieSealer(current: keys[0].key, previous: keys.count > 1 ? keys[1].key : nil)
    }

    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    private static func read(_ file: URL) throws -> [Stored] {
        let text = try String(contentsOf: file, encoding: .utf8)
        return try text.split(separator: "\n").prefix(2).map { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, let id = UInt32(parts[0]), let created = Int64(parts[2]), parts[1].count == 64 else {
                throw Unreadable(description: "\(file.path): a line is not `ID HEX_KEY CREATED`; delete the file to start over (sessions end)")
            }
            let hex = Array(parts[1].utf8)
            let bytes = stride(from: 0, to: hex.count, by: 2).compactMap { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16) }
            guard bytes.count == 32 else { throw Unreadable(description: "\(file.path): a key is not 64 hex digits") }
            return Stored(key: CookieSealer.Key(id: id, bytes: bytes), created: created)
        }
    }
}
