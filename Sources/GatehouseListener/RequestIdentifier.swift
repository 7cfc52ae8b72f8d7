/// `X-Request-Id` handling: a caller's id is kept when it is reasonable, otherwise a new UUID.
public enum RequestIdentifier {
    /// Accepts 1…128 visible ASCII characters, so the id is safe to echo in headers and logs.
    public static func accept(_ candidate: String?) -> String? {
        guard let candidate, !candidate.isEmpty, candidate.utf8.count <= 128,
              candidate.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
        else { return nil }
        return candidate
    }

    /// A random (version 4) UUID in lowercase text, without Foundation's allocations or a
    /// system call per request.
    public static func generate(using generator: inout Generator) -> String {
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

extension RequestIdentifier {
    /// One `Generator` for a connection's requests: an HTTP/1.1 connection's, or all the streams
    /// of an HTTP/2 connection (seeding one takes four `getrandom` calls: per stream, that was
    /// 1.3 % of the HTTP/2 path's CPU). Not shared between connections: a few consecutive ids
    /// reveal the generator's state, so a client could predict the ids (request and trace ids)
    /// of others sharing it.
    public final class Source {
        public var generator = Generator()

        public init() {}
    }

    /// xoshiro256** seeded from the system's generator: request ids correlate logs, they are not
    /// secrets, so a fast user-space generator (one per connection) is enough.
    public struct Generator: RandomNumberGenerator {
        private var state: (UInt64, UInt64, UInt64, UInt64)

        public init() {
            var system = SystemRandomNumberGenerator()
            state = (system.next(), system.next(), system.next(), system.next() | 1)
        }

        public mutating func next() -> UInt64 {
            let result = rotate(state.1 &* 5, 7) &* 9
            let shifted = state.1 << 17
            state.2 ^= state.0
            state.3 ^= state.1
            state.1 ^= state.2
            state.0 ^= state.3
            state.2 ^= shifted
            state.3 = rotate(state.3, 45)
            return result
        }

        private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 {
            (value << count) | (value >> (64 - count))
        }
    }
}
