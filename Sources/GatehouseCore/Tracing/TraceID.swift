/// A W3C trace id: 16 bytes, never all zero, written as 32 lowercase hex digits.
public struct TraceID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// All zero: no trace (W3C's invalid value).
    public static let zero = TraceID(high: 0, low: 0)
    public var isValid: Bool { high != 0 || low != 0 }

    /// 32 lowercase hex digits, or 16 (B3's 64-bit ids, whose high half is zero).
    public init?(hex text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        switch utf8.count {
        case 32:
            guard let high = Hex.value(utf8[0..<16]), let low = Hex.value(utf8[16..<32]) else { return nil }
            self.init(high: high, low: low)
        case 16:
            guard let low = Hex.value(utf8[0..<16]) else { return nil }
            self.init(high: 0, low: low)
        default:
            return nil
        }
        guard isValid else { return nil }
    }

    public var description: String { Hex.text(high) + Hex.text(low) }

    /// A fresh random id.
    public static func random(using generator: inout some RandomNumberGenerator) -> TraceID {
        var id = TraceID(high: generator.next(), low: generator.next())
        if !id.isValid { id.low = 1 }
        return id
    }
}

/// A span id: 8 bytes, never all zero, written as 16 lowercase hex digits.
public struct SpanID: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value == 0 ? 1 : value }

    public init?(hex text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 16, let value = Hex.value(utf8[0..<16]), value != 0 else { return nil }
        self.value = value
    }

    public var description: String { Hex.text(value) }

    /// The id of this span's `salt`-th child: derived rather than drawn, so the forwarder can name an
    /// attempt's span without a generator, and distinct for distinct salts (SplitMix64's finalizer
    /// is a bijection).
    public func child(_ salt: UInt64) -> SpanID {
        var z = value &+ salt &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return SpanID(z ^ (z >> 31))
    }
}

/// Lowercase hex, as W3C Trace Context requires (upper case is invalid in `traceparent`).
enum Hex {
    static func value(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    static func text(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { out in
            write(value, into: out, at: 0)
            return 16
        }
    }

    /// 16 lowercase hex digits of `value` at `offset`.
    static func write(_ value: UInt64, into out: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        for position in 0..<16 {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt64((15 - position) * 4)) & 0xF
            out[offset + position] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
        }
    }
}
