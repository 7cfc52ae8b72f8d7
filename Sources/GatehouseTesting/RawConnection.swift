import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection for tests that need to see the bytes: pipelining, keep-alive,
/// malformed requests. Its reads block (with a receive timeout, so a test can never hang), on
/// NIO's thread pool rather than on Swift's cooperative threads, which other tests need.
public final class RawConnection: @unchecked Sendable {
    private let fd: Int32

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connects to `http://HOST:PORT` (the form `endpoints.json` uses).
    public init(url: String, timeoutSeconds: Int = 30) throws {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw Failure(description: "not an http://HOST:PORT address: \(url)")
        }
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw Failure(description: "connect to \(url) failed")
        }
    }

    private var isClosed = false

    deinit { close() }

    /// Closes the connection from the client's side (a client that gives up).
    public func close() {
        if !isClosed {
            isClosed = true
            Glibc.close(fd)
        }
    }

    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw Failure(description: "send failed") }
            offset += written
        }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String
        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    private var buffer: [UInt8] = []
    /// Whether the server has closed its side.
    public private(set) var closedByServer = false

    /// Reads one complete response framed by `content-length` (as Gatehouse and the fixture send).
    public func readResponse() async throws -> Response {
        try await NIOThreadPool.singleton.runIfActive { try self.readResponseBlocking() }
    }

    /// Waits until the server closes the connection (true) or the receive timeout passes (false).
    public func waitForClose() async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { try self.waitForCloseBlocking() }
    }

    private func readResponseBlocking() throws -> Response {
        while true {
            if let response = try parseBuffered() { return response }
            guard try fill() else { throw Failure(description: "connection closed before a complete response") }
        }
    }

    private func waitForCloseBlocking() throws -> Bool {
        while try fill() {}
        return closedByServer
    }

    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count == 0 { closedByServer = true; return false }
        if count < 0 { return false }
        buffer += chunk[0..<count]
        return true
    }

    private func parseBuffered() throws -> Response? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = buffer.indices.dropLast(3).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) else { return nil }
        let head = String(decoding: buffer[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, statusLine.hasPrefix("HTTP/1."),
              let status = Int(statusLine.split(separator: " ")[1]) else {
            throw Failure(description: "not an HTTP response: \(head.first ?? "")")
        }
        let headers = head.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = Int(headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "0") ?? 0
        let bodyStart = end + 4
        guard buffer.count >= bodyStart + length else { return nil }
        let body = String(decoding: buffer[bodyStart..<bodyStart + length], as: UTF8.self)
        buffer.removeFirst(bodyStart + length)
        return Response(status: status, headers: headers, body: body)
    }
}
