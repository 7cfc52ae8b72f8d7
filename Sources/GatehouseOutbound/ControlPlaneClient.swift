import AsyncHTTPClient
import GatehouseCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// HTTP calls Gatehouse makes on its own behalf — JWKS and OIDC discovery, external authorizers —
/// with the limits a gateway needs and a browser does not:
///
/// - redirects are never followed (an authorizer's 302 is its answer, not a page to fetch);
/// - no decompression (a body is what was sent, bounded before anything else);
/// - `timeout` covers the whole exchange, body included (AsyncHTTPClient's deadline ends with the
///   response head, so a peer trickling its body would otherwise hold the call for minutes);
/// - bodies past `maxBodyBytes` are cut, and say so;
/// - a connection pool of its own, so these calls neither queue behind nor starve other clients.
public final class ControlPlaneClient: Sendable {
    public static let shared = ControlPlaneClient()

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

    init() {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
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
