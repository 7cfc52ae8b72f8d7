import GatehouseCore
import NIOCore
import NIOHTTP1

/// A VirtualService mirror: a copy of the request sent to another function once the request has
/// fully arrived, and forgotten — its answer is read and dropped, and nothing about it (failure,
/// slowness, status) reaches the caller. As Envoy's shadows, the copy's `Host` ends in `-shadow`.
///
/// Loop-confined like `ForwardedExchange`. Only bodies up to `maxBodyBytes` are mirrored (the copy
/// is held until it is sent); the copy has the mirror function's timeout.
final class ShadowExchange: UpstreamResponseDelegate {
    static let maxBodyBytes = 64 * 1024

    private enum Phase {
        case collecting
        case waiting(id: Int)
        case sending
        case done
    }

    private let pool: any FunctionUpstream
    private let loop: any EventLoop
    private let loopIndex: Int
    private var head: HTTPRequestHead
    private var body: [ByteBuffer] = []
    private var bodyBytes = 0
    private var phase = Phase.collecting
    private var lease: InstanceLease?
    private var upstream: UpstreamConnection?
    private var timeout: Scheduled<Void>?
    private var keepAlive = true

    init(pool: any FunctionUpstream, head: HTTPRequestHead, loop: any EventLoop, loopIndex: Int) {
        self.pool = pool
        self.loop = loop
        self.loopIndex = loopIndex
        var head = head
        // A remote is addressed by its own name: the mark goes on X-Forwarded-Host instead.
        let field = pool.spec.remote == nil ? "host" : "x-forwarded-host"
        if let host = head.headers.first(name: field) { head.headers.replaceOrAdd(name: field, value: host + "-shadow") }
        self.head = head
    }

    func bodyPart(_ buffer: ByteBuffer) {
        guard case .collecting = phase else { return }
        bodyBytes += buffer.readableBytes
        if bodyBytes > Self.maxBodyBytes { return abandon() }
        body.append(buffer)
    }

    /// The request has fully arrived: the copy is sent.
    func end() {
        guard case .collecting = phase else { return }
        timeout = loop.assumeIsolated().scheduleTask(in: .nanoseconds(pool.spec.timeout.nanosecondsClamped)) { [self] in abandon() }
        let bound = NIOLoopBound(self, eventLoop: loop)
        switch pool.acquire(on: loop, callback: { result in bound.value.leased(result) }) {
        case .leased(let lease): connect(lease)
        case .waiting(let id): phase = .waiting(id: id)
        case .rejected: abandon()
        }
    }

    /// The original request went away unfinished, or the copy took too long: nothing more is sent.
    func abandon() {
        if case .waiting(let id) = phase { pool.cancelWaiting(id) }
        phase = .done
        timeout?.cancel()
        timeout = nil
        if let upstream {
            upstream.handler.delegate = nil
            upstream.channel.close(promise: nil)
            self.upstream = nil
        }
        if let lease {
            self.lease = nil
            pool.release(lease)
        }
    }

    private func leased(_ result: Result<InstanceLease, GatehouseError>) {
        guard case .waiting = phase else {
            if case .success(let lease) = result { pool.release(lease) }
            return
        }
        guard case .success(let lease) = result else { return abandon() }
        connect(lease)
    }

    private func connect(_ lease: InstanceLease) {
        self.lease = lease
        phase = .sending
        lease.instance.connectionPools[loopIndex].value.acquire { [self] result in
            guard case .sending = phase, case .success(let connection) = result else {
                if case .success(let connection) = result { connection.channel.close(promise: nil) }
                return abandon()
            }
            upstream = connection
            connection.handler.delegate = self
            connection.channel.write(HTTPClientRequestPart.head(head), promise: nil)
            for part in body { connection.channel.write(HTTPClientRequestPart.body(.byteBuffer(part)), promise: nil) }
            body = []
            connection.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
    }

    // MARK: UpstreamResponseDelegate: the answer is read and dropped

    func upstreamResponseHead(_ head: HTTPResponseHead) { keepAlive = head.isKeepAlive }
    func upstreamResponseBody(_ buffer: ByteBuffer) {}
    func upstreamReadComplete() {}
    func upstreamWritable() {}

    func upstreamResponseEnd() {
        guard let upstream, let lease else { return abandon() }
        self.upstream = nil
        upstream.handler.delegate = nil
        if keepAlive { lease.instance.connectionPools[loopIndex].value.release(upstream) } else { upstream.channel.close(promise: nil) }
        abandon()
    }

    func upstreamClosed() {
        upstream = nil
        abandon()
    }
}
