import GatehouseCore
import GatehouseExchange
import NIOCore
import NIOHTTP1
import NIOPosix

/// ① The ingress listener: accepts HTTP/1.1 and HTTP/2 connections and hands each request to the pipeline.
///
/// The hot path stays on NIO's event loops (no async/await per request): each connection is
/// served on one loop, and the forwarder reuses upstream connections owned by that same loop.
public final class IngressListener: Sendable {
    public let localAddress: SocketAddress
    private let serverChannel: any Channel
    private let tracker: ConnectionTracker

    private init(serverChannel: any Channel, tracker: ConnectionTracker) {
        self.serverChannel = serverChannel
        self.localAddress = serverChannel.localAddress!
        self.tracker = tracker
    }

    /// The port actually bound (useful when asked for port 0).
    public var port: Int { localAddress.port ?? 0 }

    /// With `tls`, every connection completes a TLS handshake first: mutual for the mesh listener and
    /// MUTUAL gateway servers, server-only for SIMPLE ones.
    public static func bind(
        host: String, port: Int, eventLoops: [any EventLoop], group: any EventLoopGroup, limits: ListenerLimits,
        processor: any ExchangeProcessor, observer: any ExchangeObserver, renderer: any ErrorRenderer, tls: ListenerTLS? = nil,
        traces: TraceSwitch = TraceSwitch()
    ) async throws -> IngressListener {
        let tracker = ConnectionTracker()
        let pipeline = IngressPipeline(
            processor: processor, observer: observer, renderer: renderer, limits: limits, tracker: tracker, tls: tls,
            traces: traces)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                let loopIndex = eventLoops.firstIndex { $0 === channel.eventLoop } ?? 0
                tracker.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    var peer: PeerBox?
                    if let tls {
                        let box = PeerBox()
                        peer = box
                        try channel.pipeline.syncOperations.addHandler(ServerNameCapture(peer: box))
                        try channel.pipeline.syncOperations.addHandler(tls.handler(storingPeerIn: box))
                    }
                    // HTTP/1.1 or HTTP/2, by ALPN or by the first bytes (see IngressPipeline).
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPVersionDetector(pipeline: pipeline, peer: peer, loopIndex: loopIndex))
                }
            }
            .bind(host: host, port: port)
            .get()
        return IngressListener(serverChannel: channel, tracker: tracker)
    }

    /// Closes client connections idle for longer than `ListenerLimits.idleTimeout`. Called every
    /// few seconds by the gateway, so no timer is armed per request.
    public func closeIdleConnections() {
        let check = IdleCheck(now: .now())
        for channel in tracker.all {
            channel.pipeline.fireUserInboundEventTriggered(check)
        }
    }

    /// Stops accepting, lets in-flight exchanges finish for up to `grace`, then closes what is left.
    public func shutdown(grace: Duration) async {
        try? await serverChannel.close()
        for channel in tracker.all {
            channel.pipeline.fireUserInboundEventTriggered(DrainConnection())
        }
        let deadline = ContinuousClock.now + grace
        while tracker.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for channel in tracker.all {
            try? await channel.close()
        }
    }
}
