#if canImport(Glibc)
import Glibc
#endif

/// `ipBlocks`, `remoteIpBlocks`, `source.ip`: an address or a CIDR range, IPv4 or IPv6.
public struct IPBlock: Hashable, Sendable {
    public let network: [UInt8]
    public let prefixLength: Int

    /// nil when `text` is neither an address nor a CIDR range.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let address = Self.bytes(String(first)) else { return nil }
        if parts.count == 2, parts[1].isEmpty { return nil }  // "10.0.0.0/" names no range
        let length = parts.count == 2 ? Int(parts[1]) : address.count * 8
        guard let length, length >= 0, length <= address.count * 8 else { return nil }
        network = address
        prefixLength = length
    }

    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(address), bytes.count == network.count else { return false }
        var remaining = prefixLength
        for index in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xff : ~(0xff >> UInt8(bits))
            if bytes[index] & mask != network[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
