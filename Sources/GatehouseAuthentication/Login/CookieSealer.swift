import Crypto
import Foundation

/// Seals what Gatehouse keeps in a browser (the session cookie, a login in progress): AES-256-GCM,
/// so a cookie can be neither read nor changed nor moved to another host (the host is authenticated
/// data). Keys rotate: sealing uses the current one; opening accepts the current and the previous,
/// told apart by a 4-byte key id in front.
///
/// Text form: base64url(key id ‖ nonce ‖ ciphertext ‖ tag) — 4 + 12 + n + 16 bytes.
public struct CookieSealer: Sendable {
    public struct Key: Sendable {
        public let id: UInt32
        let key: SymmetricKey

        public init(id: UInt32, bytes: some ContiguousBytes) {
            self.id = id
            key = SymmetricKey(data: bytes)
        }

        /// A fresh 256-bit key.
        public static func random(id: UInt32) -> Key {
            Key(id: id, bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        }

        public var bytes: [UInt8] { key.withUnsafeBytes { Array($0) } }
    }

    public let current: Key
    public let previous: Key?

    public init(current: Key, previous: Key? = nil) {
        self.current = current
        self.previous = previous
    }

    public func seal(_ plaintext: Data, boundTo host: String) -> String {
        // AES-GCM with a random 96-bit nonce cannot fail for inputs this size.
        let box = try! AES.GCM.seal(plaintext, using: current.key, authenticating: Data(host.utf8))
        var bytes = withUnsafeBytes(of: current.id.bigEndian) { Array($0) }
        bytes += box.combined!
        return Base64URL.encode(bytes)
    }

    /// The plaintext, or nil for anything not sealed by one of these keys for `host`.
    public func open(_ text: Substring, boundTo host: String) -> Data? {
        guard text.utf8.count < 4096, let bytes = Base64URL.decode(text), bytes.count > 4 + 12 + 16 else { return nil }
        let id = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard let key = [current, previous].compactMap({ $0 }).first(where: { $0.id == id }),
              let box = try? AES.GCM.SealedBox(combined: bytes[4...]) else { return nil }
        return try? AES.GCM.open(box, using: key.key, authenticating: Data(host.utf8))
    }
}
