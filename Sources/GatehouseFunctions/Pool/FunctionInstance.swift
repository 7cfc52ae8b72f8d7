import GatehouseCore
import NIOConcurrencyHelpers
import NIOCore

/// One running (or starting) copy of a function: its port, its kept-alive connections and the
/// signal that tells its supervisor to stop it. A remote function has one, standing for its endpoint.
public final class FunctionInstance: Sendable {
    public let id: Int
    public let spec: FunctionSpec
    public let port: Int
    /// `127.0.0.1:PORT`, or a remote function's host and port: the access log's `upstream_host`.
    public let upstreamHost: String
    /// Kept-alive connections to this instance, one pool per event loop, touched only on that loop.
    let connectionPools: [NIOLoopBoundBox<UpstreamConnectionPool>]
    private let stopRequest: AsyncStream<Duration>.Continuation
    let stopRequests: AsyncStream<Duration>
    /// When the instance was asked for (its process spawned right after) and when it became ready:
    /// a cold start's span.
    public let createdAt = ContinuousClock.now
    private let ready = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    public var readyAt: ContinuousClock.Instant? { ready.withLockedValue { $0 } }
    func markReady() { ready.withLockedValue { if $0 == nil { $0 = .now } } }
    /// The last lines the process wrote to stderr, for the log line when it fails to start.
    let stderrTail = NIOLockedValueBox<[String]>([])

    convenience init(id: Int, spec: FunctionSpec, port: Int, eventLoops: [any EventLoop]) throws {
        var target = UpstreamTarget(address: .socket(try SocketAddress(ipAddress: "127.0.0.1", port: port)), tls: nil)
        target.h2c = spec.speaksHTTP2
        self.init(id: id, spec: spec, port: port, upstreamHost: "127.0.0.1:\(port)", target: target, eventLoops: eventLoops)
    }

    /// Another node of the mesh, standing in for its instances of one revision.
    public let nodeHop: PeerHop?

    init(
        id: Int, spec: FunctionSpec, port: Int, upstreamHost: String, target: UpstreamTarget, eventLoops: [any EventLoop],
        nodeHop: PeerHop? = nil, maxIdle: Int? = nil, maxIdleTime: TimeAmount? = nil
    ) {
        self.id = id
        self.spec = spec
        self.port = port
        self.upstreamHost = upstreamHost
        self.nodeHop = nodeHop
        self.connectionPools = eventLoops.map { loop in
            NIOLoopBoundBox.makeBoxSendingValue(
                UpstreamConnectionPool(
                    target: target, eventLoop: loop, maxIdle: maxIdle ?? spec.scaling.concurrency, maxUses: spec.maxRequestsPerConnection,
                    maxIdleTime: maxIdleTime),
                eventLoop: loop)
        }
        (stopRequests, stopRequest) = AsyncStream.makeStream(of: Duration.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks the supervisor to stop the process (SIGTERM, then SIGKILL after `grace`) and drops idle connections.
    func requestStop(grace: Duration) {
        stopRequest.yield(grace)
        for box in connectionPools {
            box.eventLoop.execute { box.value.closeAll() }
        }
    }

    func rememberStderr(_ line: String) {
        stderrTail.withLockedValue { tail in
            tail.append(line)
            if tail.count > 10 { tail.removeFirst(tail.count - 10) }
        }
    }
}

/// An instance lent to one request; give it back with `FunctionPool.release`.
/// Which node a peer stand-in reaches, and the revision it asks that node to run.
public struct PeerHop: Sendable, Hashable {
    /// `NodeHop.value` of the revision.
    public let revision: String
    /// The node's name in the registry.
    public let node: String
}

public struct InstanceLease: Sendable {
    public let instance: FunctionInstance
    /// The request waited for this instance to start.
    public let coldStart: Bool
}
