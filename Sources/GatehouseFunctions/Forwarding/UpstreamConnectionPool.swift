import GatehouseExchange
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// Where a pool's connections go: an instance's loopback port, or a remote function's host and
/// port, over TLS when the remote's settings say so.
struct UpstreamTarget: Sendable {
    enum Address: Sendable {
        case socket(SocketAddress)
        /// Resolved per connection (the remote's addresses may change).
        case host(String, port: Int)
        /// A channel someone else connects (on the loop given), set up here like any other: tests
        /// hand in an `EmbeddedChannel` to drive the forwarder without a socket.
        case dial(@Sendable (any EventLoop) -> EventLoopFuture<any Channel>)
    }

    let address: Address
    let tls: UpstreamTLS?
    /// HTTP/2 with prior knowledge (a function with `protocol: h2c`): one connection, many streams.
    var h2c = false
}

/// Kept-alive HTTP/1.1 connections from one event loop to one instance (or remote endpoint);
/// for an h2c function, one HTTP/2 connection whose streams carry the requests.
///
/// Loop-confined (held in a `NIOLoopBoundBox`): the client connection and its upstream
/// connection share a loop, so forwarding never crosses threads.
final class UpstreamConnectionPool {
    let target: UpstreamTarget
    let eventLoop: any EventLoop
    private let maxIdle: Int
    private var idle: [UpstreamConnection] = []
    var closed = false
    /// The h2c connection and the requests waiting for it to connect (see `UpstreamConnectionPool+HTTP2`).
    var http2 = HTTP2Upstream()

    /// A DestinationRule's `maxRequestsPerConnection`: a connection that served this many is closed.
    private let maxUses: Int?
    /// A connection idle longer is closed rather than reused: to another node, whose listener closes
    /// idle connections itself, so a request is not sent on one it is closing (a POST would fail).
    private let maxIdleTime: TimeAmount?

    init(target: UpstreamTarget, eventLoop: any EventLoop, maxIdle: Int, maxUses: Int? = nil, maxIdleTime: TimeAmount? = nil) {
        self.target = target
        self.maxUses = maxUses
        self.maxIdleTime = maxIdleTime
        self.eventLoop = eventLoop
        self.maxIdle = maxIdle
    }

    /// Calls back with an idle connection at once, or with a new one when it has connected
    /// (always a new one when `fresh`).
    func acquire(fresh: Bool = false, _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        if target.h2c { return acquireStream(fresh: fresh, completion) }
        while !fresh, var connection = idle.popLast() {
            if let limit = maxIdleTime, let since = connection.idleSince, NIODeadline.now() - since > limit {
                connection.handler.onClose = nil
                connection.channel.close(promise: nil)
                continue
            }
            if connection.channel.isActive {
                connection.handler.onClose = nil
                connection.reused = true
                connection.uses += 1
                completion(.success(connection))
                return
            }
        }
        let tls = target.tls
        let loop = eventLoop
        func bootstrap() -> ClientBootstrap {
            ClientBootstrap(group: loop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(2))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try Self.setUp(channel, tls: tls) }
                }
        }
        let connected = switch target.address {
        case .socket(let address): bootstrap().connect(to: address)
        case .host(let host, let port): bootstrap().connect(host: host, port: port)
        case .dial(let dial):
            dial(eventLoop).flatMapThrowing { channel in
                try Self.setUp(channel, tls: tls)
                return channel
            }
        }
        connected
            .flatMap { channel in
                // Over TLS, the connection is ready once its handshake and server check passed.
                guard tls != nil else { return channel.eventLoop.makeSucceededFuture(channel) }
                guard let gate = try? channel.pipeline.syncOperations.handler(type: TLSHandshakeGate.self) else {
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(UpstreamPeerRefused(description: "the TLS handshake could not be watched"))
                }
                return gate.opened.futureResult.map { channel }
            }
            .assumeIsolated()
            .whenComplete { result in
                completion(result.flatMap { channel in
                    Result {
                        let handler = try channel.pipeline.syncOperations.handler(type: UpstreamConnectionHandler.self)
                        return UpstreamConnection(channel: channel, handler: handler)
                    }
                })
            }
    }

    /// The handlers every upstream connection gets, in order.
    private static func setUp(_ channel: any Channel, tls: UpstreamTLS?) throws {
        let pipeline = channel.pipeline.syncOperations
        if let tls {
            try pipeline.addHandler(NIOSSLClientHandler(context: try tls.context(), serverHostname: tls.serverHostname))
            try pipeline.addHandler(TLSHandshakeGate(opened: channel.eventLoop.makePromise(), checkPeer: tls.checkPeer))
        }
        // Bytes after a 101 (a WebSocket's first frames) go on to the tunnel when the decoder leaves.
        let decoder = HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)
        try pipeline.addHandler(ByteToMessageHandler(UpstreamResponseDecoder(decoder: decoder)), name: Exchange.upstreamDecoderName)
        try pipeline.addHandler(UpstreamConnectionHandler(writer: HTTP1RequestWriter(decoder: decoder)))
    }

    /// Keeps a connection whose last exchange ended cleanly; closes it when the pool is full or closed.
    func release(_ connection: UpstreamConnection) {
        if connection.multiplexed {
            // A finished stream closes by itself (the connection stays with the pool) — unless the
            // function answered before taking the whole request body and our end is still held by
            // flow control: then it is reset, or it would hold one of the function's stream slots.
            connection.handler.delegate = nil
            let stream = connection.channel
            eventLoop.assumeIsolated().execute { if stream.isActive { stream.close(promise: nil) } }
            return
        }
        guard !closed, idle.count < maxIdle, connection.channel.isActive, connection.uses < (maxUses ?? .max) else {
            connection.channel.close(promise: nil)
            return
        }
        connection.handler.delegate = nil
        var connection = connection
        connection.idleSince = maxIdleTime == nil ? nil : .now()
        let id = ObjectIdentifier(connection.channel)
        connection.handler.onClose = { [weak self] in
            self?.idle.removeAll { ObjectIdentifier($0.channel) == id }
        }
        idle.append(connection)
    }

    func closeAll() {
        closed = true
        let connections = idle
        idle = []
        for connection in connections { connection.channel.close(promise: nil) }
        closeHTTP2()
    }
}
