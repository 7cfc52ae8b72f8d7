import GatehouseCore
import GatehouseListener
import NIOCore
import NIOHTTP1

/// ⑥ One request on its way to an instance and its response on the way back.
///
/// Lives on the client connection's event loop. It leases an instance from the function's pool
/// (waiting while one starts), takes a kept-alive connection to it from the same loop, streams
/// the body both ways, and gives the lease and the connection back when the response ends.
final class ForwardedExchange: RequestBodySink, UpstreamResponseDelegate {
    private enum Phase {
        case waitingForInstance(waiterID: Int)
        case connecting
        case forwarding
        case done
    }

    private let client: ClientExchange
    private let pool: FunctionPool
    private var phase: Phase = .connecting
    private var lease: InstanceLease?
    private var upstream: UpstreamConnection?
    private var pendingBody: [ByteBuffer] = []
    private var requestEnded = false
    private var responseKeepAlive = true
    private var timeout: Scheduled<Void>?

    init(client: ClientExchange, pool: FunctionPool) {
        self.client = client
        self.pool = pool
    }

    func start() {
        client.bodySink = self
        let loop = client.eventLoop
        let deadline = pool.spec.timeout - (.now - client.record.start)
        timeout = loop.assumeIsolated().scheduleTask(in: .nanoseconds(max(0, deadline.nanosecondsClamped))) { [self] in
            timedOut()
        }
        let bound = NIOLoopBound(self, eventLoop: loop)
        switch pool.acquire(on: loop, callback: { result in bound.value.leaseArrived(result) }) {
        case .leased(let lease): connect(lease)
        case .waiting(let waiterID): phase = .waitingForInstance(waiterID: waiterID)
        case .rejected(let error): finish(failing: error)
        }
    }

    private func leaseArrived(_ result: Result<InstanceLease, GatehouseError>) {
        guard case .waitingForInstance = phase else {
            // The request ended while its lease was on the way: hand it straight back.
            if case .success(let lease) = result { pool.release(lease) }
            return
        }
        switch result {
        case .success(let lease): connect(lease)
        case .failure(let error): finish(failing: error)
        }
    }

    private func connect(_ lease: InstanceLease) {
        self.lease = lease
        phase = .connecting
        client.record.coldStart = lease.coldStart
        client.record.upstreamHost = "127.0.0.1:\(lease.instance.port)"
        let connections = lease.instance.connectionPools[client.loopIndex].value
        connections.acquire { [self] result in
            switch result {
            case .success(let connection): send(over: connection)
            case .failure(let error): connectFailed(lease, error)
            }
        }
    }

    private func connectFailed(_ lease: InstanceLease, _ error: any Error) {
        guard case .connecting = phase else { return }
        pool.reportUnhealthy(lease.instance)
        client.record.responseFlags.insert(.upstreamConnectionFailure)
        finish(failing: GatehouseError(.upstreamConnectFailure, detail: "connecting to \(lease.instance.address) failed: \(error)"))
    }

    private func send(over connection: UpstreamConnection) {
        guard case .connecting = phase else {
            // The exchange ended (timeout, client gone) while connecting; this connection is not needed.
            connection.channel.close(promise: nil)
            return
        }
        phase = .forwarding
        upstream = connection
        connection.handler.delegate = self
        let head = ForwardedHeaders.upstreamRequest(
            client.head, requestId: client.record.requestId, clientAddress: client.record.downstreamAddress,
            forwardedFor: &client.record.forwardedFor)
        client.record.upstreamStart = .now
        let channel = connection.channel
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        for part in pendingBody { channel.write(HTTPClientRequestPart.body(.byteBuffer(part)), promise: nil) }
        pendingBody = []
        if requestEnded { channel.write(HTTPClientRequestPart.end(nil), promise: nil) }
        channel.flush()
    }

    // MARK: RequestBodySink

    func requestBodyPart(_ buffer: ByteBuffer) {
        if let upstream, case .forwarding = phase {
            upstream.channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        } else {
            pendingBody.append(buffer)
        }
    }

    func requestBodyEnd() {
        requestEnded = true
        if let upstream, case .forwarding = phase {
            upstream.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
    }

    func clientDisconnected() {
        // The record is already finished with flag DC; release what the request held.
        discardUpstream()
        endPhase()
    }

    // MARK: UpstreamResponseDelegate

    func upstreamResponseHead(_ head: HTTPResponseHead) {
        guard case .forwarding = phase else { return }
        responseKeepAlive = head.isKeepAlive
        if let started = client.record.upstreamStart { client.record.upstreamServiceTime = .now - started }
        client.sendHead(ForwardedHeaders.downstreamResponse(head))
    }

    func upstreamResponseBody(_ buffer: ByteBuffer) {
        guard case .forwarding = phase else { return }
        client.sendBody(buffer)
    }

    func upstreamReadComplete() {
        if case .forwarding = phase { client.flush() }
    }

    func upstreamResponseEnd() {
        guard case .forwarding = phase, let upstream else { return }
        self.upstream = nil
        upstream.handler.delegate = nil
        let reusable = responseKeepAlive && requestEnded
        endPhase()
        if reusable {
            lease?.instance.connectionPools[client.loopIndex].value.release(upstream)
        } else {
            upstream.channel.close(promise: nil)
        }
        releaseLease()
        client.sendEnd()
    }

    func upstreamClosed() {
        guard case .forwarding = phase else { return }
        upstream = nil
        client.record.responseFlags.insert(.upstreamConnectionTermination)
        finish(failing: GatehouseError(.upstreamReset, detail: "the instance closed the connection before the response ended"))
    }

    // MARK: Ending

    private func timedOut() {
        timeout = nil
        guard !client.isFinished else { return }
        client.record.responseFlags.insert(.upstreamRequestTimeout)
        finish(failing: GatehouseError(.upstreamTimeout, detail: "no complete response within \(pool.spec.timeout.gatehouseDescription)"))
    }

    private func finish(failing error: GatehouseError) {
        discardUpstream()
        endPhase()
        client.fail(error)
    }

    /// Closes an upstream connection that is mid-exchange: it cannot be reused.
    private func discardUpstream() {
        if let upstream {
            upstream.handler.delegate = nil
            upstream.channel.close(promise: nil)
            self.upstream = nil
        }
    }

    private func endPhase() {
        if case .waitingForInstance(let waiterID) = phase { pool.cancelWaiting(waiterID) }
        phase = .done
        timeout?.cancel()
        timeout = nil
        releaseLease()
    }

    private func releaseLease() {
        if let lease {
            self.lease = nil
            pool.release(lease)
        }
    }
}
