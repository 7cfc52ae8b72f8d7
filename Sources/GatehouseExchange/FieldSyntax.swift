/// What HTTP/1.1 allows in a request line and header fields (RFC 9110 §5), checked on bytes as
/// they are written: whatever Gatehouse adds to a request or response (a claim, a route's value,
/// a certificate's URI SAN) could otherwise carry a CR LF and split the message.
public enum FieldSyntax {
    /// `token` (§5.6.2): at least one tchar. Header names and methods.
    @inlinable
    public static func isToken(_ string: String) -> Bool {
        guard !string.isEmpty else { return false }
        // tchar as a 128-bit set: bytes 0–63 (`!#$%&'*+-.`, digits), bytes 64–127 (letters, `^_`|~`).
        let tcharLow: UInt64 = 0x03FF_6CFA_0000_0000, tcharHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE
        return string.utf8.withContiguousStorageIfAvailable { bytes in
            var outside: UInt64 = 0
            for byte in bytes {
                let bit: UInt64 = byte < 64 ? tcharLow &>> UInt64(byte) : byte < 128 ? tcharHigh &>> UInt64(byte &- 64) : 0
                outside |= ~bit & 1
            }
            return outside == 0
        } ?? string.utf8.allSatisfy { $0 < 64 ? tcharLow &>> UInt64($0) & 1 == 1 : $0 < 128 && tcharHigh &>> UInt64($0 &- 64) & 1 == 1 }
    }

    /// A field value (§5.5): no control character but HTAB, no DEL; obs-text (0x80–0xFF) allowed,
    /// as NIO's validator allows it.
    @inlinable
    public static func isFieldValue(_ string: String) -> Bool {
        !contains(string, below: 0x20, except: 0x09)
    }

    /// A request target: no space (the request line is split at spaces) and no control character.
    @inlinable
    public static func isRequestTarget(_ string: String) -> Bool {
        !string.isEmpty && !contains(string, below: 0x21, except: 0xFF)
    }

    /// Whether `string` has a byte below `limit` other than `allowed`, or DEL. Sixteen bytes at a
    /// time: values can be long (a bearer token), and a byte loop was as slow as NIO's validator.
    @inlinable
    static func contains(_ string: String, below limit: UInt8, except allowed: UInt8) -> Bool {
        string.utf8.withContiguousStorageIfAvailable { bytes in
            var index = 0
            if let base = UnsafeRawPointer(bytes.baseAddress) {
                let limits = SIMD16<UInt8>(repeating: limit), exception = SIMD16<UInt8>(repeating: allowed)
                let delete = SIMD16<UInt8>(repeating: 0x7F)
                while index + 16 <= bytes.count {
                    let chunk = base.loadUnaligned(fromByteOffset: index, as: SIMD16<UInt8>.self)
                    if any((chunk .< limits) .& (chunk .!= exception) .| (chunk .== delete)) { return true }
                    index += 16
                }
            }
            while index < bytes.count {
                let byte = bytes[index]
                if (byte < limit && byte != allowed) || byte == 0x7F { return true }
                index += 1
            }
            return false
        } ?? string.utf8.contains { ($0 < limit && $0 != allowed) || $0 == 0x7F }
    }
}
