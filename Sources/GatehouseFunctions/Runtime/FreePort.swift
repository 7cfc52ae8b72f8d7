import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Picks a free loopback port for a new instance's `$PORT`.
///
/// The port is free when picked and released before the child binds it, so another process could
/// take it in between — and the readiness probe would then find *that* process listening. Servers
/// asking for port 0 (other gateways' listeners, test servers) get ports from the kernel's
/// ephemeral range, so the pick comes from below it: a random free port in 20000 up to the range's
/// start (32768 by default). Only a program choosing the same fixed port in the same instant can
/// still collide. When there is no room below the range, the kernel chooses.
enum FreePort {
    struct Failure: Error, CustomStringConvertible {
        let call: String
        let code: Int32
        var description: String { "\(call) failed: errno \(code)" }
    }

    static func pick() throws -> Int {
        let low = 20_000, high = ephemeralRangeStart()
        if high - low >= 1024 {
            for _ in 0..<64 {
                let candidate = Int.random(in: low..<high)
                if (try? bindLoopback(port: candidate)) != nil { return candidate }
            }
        }
        return try bindLoopback(port: 0)
    }

    /// Binds (and releases) a loopback socket on `port`; returns the port bound.
    private static func bindLoopback(port: Int) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(call: "socket", code: errno) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure(call: "bind", code: errno) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(call: "getsockname", code: errno) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The first port of the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`).
    private static func ephemeralRangeStart() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
              let first = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first,
              let start = Int(first) else { return 32768 }
        return start
    }
}
