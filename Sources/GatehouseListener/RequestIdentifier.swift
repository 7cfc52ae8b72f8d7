/// `X-Request-Id` handling: a caller's id is kept when it is reasonable, otherwise a new UUID.
enum RequestIdentifier {
    /// Accepts 1…128 visible ASCII characters, so the id is safe to echo in headers and logs.
    static func accept(_ candidate: String?) -> String? {
        guard let candidate, !candidate.isEmpty, candidate.utf8.count <= 128,
              candidate.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
        else { return nil }
        return candidate
    }

    /// A random (version 4) UUID in lowercase text, without Foundation's allocations.
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 36) { out in
            var index = 0
            for position in 0..<32 {
                if position == 8 || position == 12 || position == 16 || position == 20 {
                    out[index] = UInt8(ascii: "-")
                    index += 1
                }
                let word = position < 16 ? high : low
                var nibble = UInt8(truncatingIfNeeded: word >> UInt64((15 - position % 16) * 4)) & 0xF
                if position == 12 { nibble = 4 }  // version 4
                if position == 16 { nibble = (nibble & 0x3) | 0x8 }  // RFC 4122 variant
                out[index] = hex[Int(nibble)]
                index += 1
            }
            return 36
        }
    }
}
