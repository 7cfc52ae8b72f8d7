import GatehouseCore
import NIOConcurrencyHelpers
import NIOCore

/// A revision whose home is another node of the mesh: its requests go to that node's mesh
/// listener (`NodeHop`), which runs them on its own instances. While that node cannot be
/// connected to, they go to this node's own pool instead — availability first; `maxInstances`
/// can then be exceeded across the mesh until the nodes agree again (docs/store-postgres.md).
public final class PlacedUpstream: FunctionUpstream {
    public let local: any FunctionUpstream
    private let peer: FunctionInstance
    private let node: String
    private let reachability: PeerReachability

    public var spec: FunctionSpec { local.spec }
    public var timeout: Duration { local.timeout }
    public var remote: RemoteEndpoint? { local.remote }

    public init(local: any FunctionUpstream, peer: FunctionInstance, node: String, reachability: PeerReachability) {
        self.local = local
        self.peer = peer
        self.node = node
        self.reachability = reachability
    }

    public func acquire(on loop: any EventLoop, callback: @escaping FunctionPool.LeaseCallback) -> FunctionPool.Acquired {
        guard reachability.isReachable(node) else { return local.acquire(on: loop, callback: callback) }
        // The peer queues and scales on its side; this node holds nothing for the request.
        return .leased(InstanceLease(instance: peer, coldStart: false))
    }

    public func release(_ lease: InstanceLease) {
        if lease.instance !== peer { local.release(lease) }
    }

    @discardableResult public func cancelWaiting(_ waiterID: Int) -> Bool {
        local.cancelWaiting(waiterID)
    }

    /// The peer refused the connection (or its TLS): it is passed over for a while, and the
    /// forwarder's next attempt gets a local instance.
    public func reportUnhealthy(_ instance: FunctionInstance) {
        if instance === peer {
            reachability.markUnreachable(node)
        } else {
            local.reportUnhealthy(instance)
        }
    }

    /// The peer's answers are its instances': outlier detection is the peer's to do.
    public func reportAnswer(_ instance: FunctionInstance, status: Int?) {
        if instance !== peer { local.reportAnswer(instance, status: status) }
    }

    /// The stand-in for `node`'s instances of `spec`'s revision, reached at `host:port` over `tls`.
    public static func peerInstance(
        node: String, host: String, port: Int, tls: UpstreamTLS, spec: FunctionSpec, eventLoops: [any EventLoop]
    ) -> FunctionInstance {
        var target = UpstreamTarget(address: .host(host, port: port), tls: tls)
        // An h2c function's calls (gRPC) go to its home as HTTP/2 streams over TLS (ALPN h2).
        target.h2c = spec.speaksHTTP2
        return FunctionInstance(
            id: 0, spec: spec, port: port, upstreamHost: "\(node)@\(host):\(port)",
            target: target, eventLoops: eventLoops,
            nodeHop: PeerHop(revision: NodeHop.value(for: spec.revisionKey), node: node), maxIdle: PeerReachability.idleConnectionsPerLoop,
            maxIdleTime: PeerReachability.idleConnectionLifetime)
    }

    /// Closes the kept-alive connections to the peer (it left, or moved).
    public static func close(_ instance: FunctionInstance) {
        for box in instance.connectionPools {
            box.eventLoop.execute { box.value.closeAll() }
        }
    }
}

/// The peers this node could not connect to lately: passed over until `passOver` has gone by.
public final class PeerReachability: Sendable {
    /// How long a peer that refused a connection or a hop is passed over: longer than a TLS
    /// handshake may take (10 s), so a peer that accepts and then stalls costs one request per window.
    public static let passOver: Duration = .seconds(15)
    /// Connections kept open to one peer, per event loop and revision.
    static let idleConnectionsPerLoop = 64
    /// How long a connection to a peer may sit idle and still be used: well under a listener's
    /// default idle timeout (60 s), after which the peer closes it.
    static let idleConnectionLifetime: TimeAmount = .seconds(15)
    private let down = NIOLockedValueBox<[String: ContinuousClock.Instant]>([:])

    public init() {}

    public func isReachable(_ node: String) -> Bool {
        down.withLockedValue { down in
            guard let until = down[node] else { return true }
            if until > .now { return false }
            down[node] = nil
            return true
        }
    }

    func markUnreachable(_ node: String) {
        let now = ContinuousClock.now
        down.withLockedValue { down in
            down = down.filter { $0.value > now }  // nodes no longer asked about (gone) are forgotten
            down[node] = now + Self.passOver
        }
    }
}
