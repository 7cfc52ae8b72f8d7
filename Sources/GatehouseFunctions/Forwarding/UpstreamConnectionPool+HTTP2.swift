import GatehouseExchange
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// An h2c function's connection from one event loop: requests are streams on it, each read and
/// written as HTTP/1 parts by NIO's codec, so the forwarder treats a stream like a connection.
struct HTTP2Upstream {
    var channel: (any Channel)?
    var multiplexer: NIOHTTP2Handler.StreamMultiplexer?
    /// Requests waiting while the connection is made (nil: none is being made).
    var waiting: [(Result<UpstreamConnection, any Error>) -> Void]?
    /// An earlier request used the connection: a stream failing on it may mean the function
    /// closed it meanwhile, and the forwarder may try once more on a new one.
    var used = false
    /// The function sent GOAWAY: streams already open finish; new ones go to a new connection.
    var goingAway = false
    /// Connections left after GOAWAY, for their streams to finish; the function closes them. A
    /// function that says GOAWAY and never closes gets its oldest closed past `maxDraining`.
    var draining: [any Channel] = []
    static let maxDraining = 4
}

extension UpstreamConnectionPool {
    /// HTTP/2 settings towards a function: the same bounds the listener keeps against callers (a
    /// function is no more trusted than a caller), with wider windows for throughput. A stream's
    /// window bounds what a stalled client can make Gatehouse hold per request.
    static let http2Configuration: NIOHTTP2Handler.Configuration = {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),  // streams it may open: none are accepted
            HTTP2Setting(parameter: .maxHeaderListSize, value: 80 * 1024),  // as NIO's HTTP/1 response decoder
            HTTP2Setting(parameter: .initialWindowSize, value: 256 * 1024),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
        connection.targetWindowSize = 1 << 20
        connection.maximumSequentialEmptyDataFrames = 1
        connection.maximumSequentialContinuationFrames = 5
        connection.maximumBufferedControlFrames = 1_000
        connection.controlFrameRateLimit.maximumCount = 200
        connection.controlFrameRateLimit.windowLength = .seconds(30)
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 256 * 1024
        return NIOHTTP2Handler.Configuration(connection: connection, stream: stream)
    }()

    /// Calls back with a new stream on the loop's connection, connecting it first when there is
    /// none. (`fresh` — a retry after a request failed on a kept connection — changes nothing here:
    /// one stream's failure says nothing of the connection its other streams share; a connection
    /// that closed is replaced below anyway.)
    func acquireStream(fresh: Bool, _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        guard !closed else { return completion(.failure(ChannelError.ioOnClosedChannel)) }
        if let channel = http2.channel, let multiplexer = http2.multiplexer, channel.isActive, !http2.goingAway {
            return openStream(on: multiplexer, reused: http2.used, completion)
        }
        if http2.waiting != nil {
            http2.waiting?.append(completion)
            return
        }
        // Gone, or going away: the function closes it once its streams are done.
        dropHTTP2Connection(closing: false)
        http2.waiting = [completion]
        connectHTTP2()
    }

    private func connectHTTP2() {
        let loop = eventLoop
        let tls = target.tls
        @Sendable func setUp(_ channel: any Channel) throws {
            let pipeline = channel.pipeline.syncOperations
            // Another node's mesh listener (a hop): HTTP/2 inside TLS, offered by ALPN.
            if let tls {
                try pipeline.addHandler(NIOSSLClientHandler(context: try tls.context(), serverHostname: tls.serverHostname))
                try pipeline.addHandler(TLSHandshakeGate(opened: channel.eventLoop.makePromise(), checkPeer: tls.checkPeer))
            }
            // The requests of one event-loop tick leave in one write (see `FlushCoalescer`).
            try pipeline.addHandler(FlushCoalescer())
            _ = try pipeline.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: Self.http2Configuration.connection,
                streamConfiguration: Self.http2Configuration.stream
            ) { pushed in
                // Push is disabled in the settings; a stream the function opens anyway is refused.
                pushed.close()
            }
            try pipeline.addHandler(HTTP2GoAwayWatcher())
        }
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(2))
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try setUp(channel) } }
        let connected: EventLoopFuture<any Channel> = switch target.address {
        case .socket(let address): bootstrap.connect(to: address)
        case .host(let host, let port): bootstrap.connect(host: host, port: port)
        case .dial(let dial): dial(loop).flatMapThrowing { channel in
            try setUp(channel)
            return channel
        }
        }
        connected.flatMap { channel in
            // Over TLS, streams are opened once the handshake and the server check passed.
            guard tls != nil, let gate = try? channel.pipeline.syncOperations.handler(type: TLSHandshakeGate.self) else {
                return channel.eventLoop.makeSucceededFuture(channel)
            }
            return gate.opened.futureResult.map { channel }
        }.assumeIsolated().whenComplete { [self] result in
            let waiting = http2.waiting ?? []
            http2.waiting = nil
            switch result {
            case .success(let channel):
                guard !closed, let multiplexer = try? channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer() else {
                    channel.close(promise: nil)
                    for completion in waiting { completion(.failure(ChannelError.ioOnClosedChannel)) }
                    return
                }
                http2.channel = channel
                http2.multiplexer = multiplexer
                http2.used = false
                http2.goingAway = false
                if let watcher = try? channel.pipeline.syncOperations.handler(type: HTTP2GoAwayWatcher.self) {
                    let id = ObjectIdentifier(channel)
                    watcher.onGoAway = { [weak self] in
                        guard let self, let current = self.http2.channel, ObjectIdentifier(current) == id else { return }
                        self.http2.goingAway = true
                    }
                }
                for completion in waiting { openStream(on: multiplexer, reused: false, completion) }
            case .failure(let error):
                for completion in waiting { completion(.failure(error)) }
            }
        }
    }

    private func openStream(
        on multiplexer: NIOHTTP2Handler.StreamMultiplexer, reused: Bool,
        _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void
    ) {
        http2.used = true
        multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture {
                let pipeline = stream.pipeline.syncOperations
                try pipeline.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                try pipeline.addHandler(UpstreamConnectionHandler())
            }
        }
        .assumeIsolated()
        .whenComplete { result in
            completion(result.flatMap { stream in
                Result {
                    let handler = try stream.pipeline.syncOperations.handler(type: UpstreamConnectionHandler.self)
                    return UpstreamConnection(channel: stream, handler: handler, reused: reused, multiplexed: true)
                }
            })
        }
    }

    /// A stream of the loop's connection was abandoned mid-exchange (its caller left, a timeout, a
    /// retry): later streams go to a new connection, and this one is left to finish the streams it
    /// carries. Seen in load tests: after a burst of abandoned streams a function (nginx) could stop
    /// answering new streams on that connection; a fresh connection keeps the function reachable.
    func streamAbandoned(_ stream: any Channel) {
        guard let current = http2.channel, let parent = stream.parent, parent === current else { return }
        dropHTTP2Connection(closing: false)
    }

    /// Forgets the loop's connection: gone, or going away (the function closes it once the streams
    /// it promised to finish are done).
    private func dropHTTP2Connection(closing: Bool) {
        guard let channel = http2.channel else { return }
        http2.channel = nil
        http2.multiplexer = nil
        if closing || !channel.isActive { return channel.close(promise: nil) }
        http2.draining.removeAll { !$0.isActive }
        http2.draining.append(channel)
        if http2.draining.count > HTTP2Upstream.maxDraining { http2.draining.removeFirst().close(promise: nil) }
    }

    func closeHTTP2() {
        let waiting = http2.waiting ?? []
        http2.waiting = nil
        for completion in waiting { completion(.failure(ChannelError.ioOnClosedChannel)) }
        if let channel = http2.channel { channel.close(promise: nil) }
        for channel in http2.draining { channel.close(promise: nil) }
        http2 = HTTP2Upstream()
    }
}

/// Tells the pool when the function says GOAWAY on its connection (connection-level frames
/// pass down the parent pipeline after the HTTP/2 handler).
final class HTTP2GoAwayWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    var onGoAway: (() -> Void)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload { onGoAway?() }
    }
}
