/// Strict base64url (RFC 4648 §5) as JWS compact serialization requires it (RFC 7515 §2, §3.1):
/// no padding, no `+`/`/`, no whitespace, and the unused low bits of the last character zero.
///
/// Foundation's decoder accepts several spellings of the same bytes; one token would then have
/// many texts, each a fresh cache key and a way past anything that compares tokens as text.
/// Accepting only the canonical spelling keeps one text per token.
enum Base64URL {
    /// The bytes of a canonical base64url text; nil for anything else (an empty text is empty bytes).
    static func decode(_ text: Substring) -> [UInt8]? {
        let characters = text.utf8
        // One leftover character carries only 6 bits: not a whole byte.
        guard characters.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        var last: UInt8 = 0
        for character in characters {
            guard let value = sextet(character) else { return nil }
            last = value
            buffer = (buffer << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        // A 2-character tail uses 8 of its 12 bits, a 3-character tail 16 of 18: the rest must be zero.
        switch characters.count % 4 {
        case 2: guard last & 0x0F == 0 else { return nil }
        case 3: guard last & 0x03 == 0 else { return nil }
        default: break
        }
        return bytes
    }

    /// The canonical text of `bytes`: no padding (what `decode` accepts).
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var text: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                text.append(alphabet[Int((buffer >> UInt32(bits)) & 0x3F)])
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        if bits > 0 { text.append(alphabet[Int((buffer << UInt32(6 - bits)) & 0x3F)]) }
        return String(decoding: text, as: UTF8.self)
    }

    private static func sextet(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }
}
