import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A TCP socket listening on `127.0.0.1` at a port the kernel picked, accepting nothing: for
/// tests that need "something listens on this port".
public final class LoopbackListener: @unchecked Sendable {
    private var fd: Int32
    public let port: Int

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard fd >= 0, listening else {
            if fd >= 0 { Glibc.close(fd) }
            throw RawConnection.Failure(description: "listening on 127.0.0.1 failed: errno \(errno)")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close() }

    public func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }
}
