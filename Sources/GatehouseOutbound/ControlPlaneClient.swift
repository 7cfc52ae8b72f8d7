import AsyncHTTPClient
import GatehouseCore
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// HTTP calls Gatehouse makes on its own behalf — JWKS and OIDC discovery, external authorizers —
/// with the limits a gateway needs and a browser does not:
///
/// - redirects are never followed (an authorizer's 302 is its answer, not a page to fetch);
/// - no decompression (a body is what was sent, bounded before anything else);
/// - `timeout` covers the whole exchange, body included (AsyncHTTPClient's deadline ends with the
///   response head, so a peer trickling its body would otherwise hold the call for minutes);
/// - bodies past `maxBodyBytes` are cut, and say so;
/// - a connection pool of its own, so these calls neither queue behind nor starve other clients.
///
/// There is no shared instance: whoever owns the event loops makes one (`Gatehouse.run()`, a CLI
/// command) and passes it to what calls out (`KeyDirectory`, `ExternalAuthorizer`). As a `Service`
/// it shuts its connections down once graceful shutdown begins; list it before its users in the
/// `ServiceGroup`, so it stops after them. Outside a group, call `shutdown()` when done.
public final class ControlPlaneClient: Service, Sendable {
    private let client: HTTPClient

    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: ByteBuffer
        /// The body was longer than allowed and `body` holds only its start.
        public var truncated: Bool
    }

    public struct Timeout: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connections run on `eventLoopGroup`, which must outlive this client (shut it down after `shutdown()`).
    public init(eventLoopGroup: any EventLoopGroup) {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
    }

    /// Waits for graceful shutdown, then closes every connection.
    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }

    /// Closes every connection; calls after this fail. Must be called once before the client is released.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    public func execute(_ request: HTTPClientRequest, timeout: Duration, maxBodyBytes: Int) async throws -> Response {
        let client = client
        return try await withThrowingTaskGroup(of: Response.self) { group in
            group.addTask {
                let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanosecondsClamped))
                var body = ByteBuffer()
                var truncated = false
                for try await part in response.body {
                    let room = maxBodyBytes - body.readableBytes
                    if part.readableBytes > room {
                        var part = part
                        if room > 0, let slice = part.readSlice(length: room) { body.writeImmutableBuffer(slice) }
                        truncated = true
                        break
                    }
                    body.writeImmutableBuffer(part)
                }
                return Response(status: Int(response.status.code), headers: response.headers, body: body, truncated: truncated)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw Timeout(description: "no complete response within \(timeout)")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw Timeout(description: "cancelled") }
            return first
        }
    }
}
