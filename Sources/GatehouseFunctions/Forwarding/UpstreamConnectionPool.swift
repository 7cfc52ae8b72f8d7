import NIOCore
import NIOHTTP1
import NIOPosix

/// Kept-alive HTTP/1.1 connections from one event loop to one instance.
///
/// Loop-confined (held in a `NIOLoopBoundBox`): the client connection and its upstream
/// connection share a loop, so forwarding never crosses threads.
final class UpstreamConnectionPool {
    private let address: SocketAddress
    private let eventLoop: any EventLoop
    private let maxIdle: Int
    private var idle: [UpstreamConnection] = []
    private var closed = false

    init(address: SocketAddress, eventLoop: any EventLoop, maxIdle: Int) {
        self.address = address
        self.eventLoop = eventLoop
        self.maxIdle = maxIdle
    }

    /// Calls back with an idle connection at once, or with a new one when it has connected
    /// (always a new one when `fresh`).
    func acquire(fresh: Bool = false, _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        while !fresh, var connection = idle.popLast() {
            if connection.channel.isActive {
                connection.handler.onClose = nil
                connection.reused = true
                completion(.success(connection))
                return
            }
        }
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(2))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .fireError)
                    try channel.pipeline.syncOperations.addHandler(UpstreamConnectionHandler())
                }
            }
            .connect(to: address)
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

    /// Keeps a connection whose last exchange ended cleanly; closes it when the pool is full or closed.
    func release(_ connection: UpstreamConnection) {
        guard !closed, idle.count < maxIdle, connection.channel.isActive else {
            connection.channel.close(promise: nil)
            return
        }
        connection.handler.delegate = nil
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
    }
}
