import GatehouseCore
import GatehouseExchange
import NIOCore
import NIOHTTP1
import NIOSSL

/// ⑥ One request on its way to an instance (or a remote function) and its response on the way back.
///
/// Lives on the client connection's event loop. It leases an instance from the function's pool
/// (waiting while one starts), takes a kept-alive connection to it from the same loop, streams
/// the body both ways, and gives the lease and the connection back when the response ends.
///
/// Back-pressure both ways, so nothing piles up in memory: while the client cannot take more
/// response bytes, the upstream connection is not read; while the instance cannot take more
/// request body (or none is connected yet and `maxPendingBodyBytes` are held), the client is not read.
final class ForwardedExchange: ExchangeDelegate, UpstreamResponseDelegate, RequestDeadlineHandler {
    private enum Phase {
        case waitingForInstance(waiterID: Int)
        case connecting
        case forwarding
        /// The function answered 101: the connection is a byte tunnel now (WebSocket).
        case tunnel
        case done
    }

    private let client: Exchange
    private let pool: any FunctionUpstream
    private var phase: Phase = .connecting
    private var lease: InstanceLease?
    private var upstream: UpstreamConnection?
    private var pendingBody: [ByteBuffer] = []
    private var pendingBodyBytes = 0
    private var requestEnded = false
    private var responseKeepAlive = true
    /// The armed timeout (a `RequestTimer` token), until the exchange ends.
    private var timeout: UInt64?
    private var reusedConnection = false
    private var responseHeadReceived = false
    private var staleRetried = false
    /// Sent again after the node it was passed to went away (once).
    private var peerRetried = false
    private var upstreamPaused = false
    /// A gRPC function's status sent in its response head (trailers-only), sent on as trailers.
    private var statusTrailers: HTTPHeaders?
    /// What a failed attempt leads to: the route's retry policy, the retries left, the kept body.
    private var budget: AttemptBudget
    private var perTryTimeout: Scheduled<Void>?

    /// Request body held while no upstream connection is ready (an instance is starting).
    static let maxPendingBodyBytes = 256 * 1024

    /// The route's mirror copies, one per mirror drawn.
    private let shadows: [MirrorExchange]

    init(client: Exchange, pool: any FunctionUpstream, mirrors: [(FunctionDestination, any FunctionUpstream)] = []) {
        self.client = client
        self.pool = pool
        // Decided before the mirrors copy the trace context, so they follow the original's decision.
        if client.record.trace.sampled == nil { client.record.decideSampling() }
        // An upgrade is one conversation with one function: it is not mirrored.
        shadows = client.upgrade != nil ? [] : mirrors.enumerated().map { index, pair in
            MirrorExchange(of: client, to: pair.0, pool: pair.1, index: index)
        }
        budget = AttemptBudget(policy: client.record.retryPolicy, keepBody: pool is PlacedUpstream)
    }

    func start() {
        client.delegate = self
        timeout = client.timer.arm(after: limit.duration - (.now - client.record.start), self)
        acquireInstance()
    }

    private func acquireInstance() {
        let loop = client.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        switch pool.acquire(on: loop, callback: { result in bound.value.leaseArrived(result) }) {
        case .leased(let lease): connect(lease)
        case .waiting(let waiterID):
            phase = .waitingForInstance(waiterID: waiterID)
            if client.record.trace.isValid { client.record.spans.append(RecordedSpan(kind: .queue, id: nextSpanId(), start: .now)) }
        case .rejected(let error): finish(failing: error)
        }
    }

    private func leaseArrived(_ result: Result<InstanceLease, GatehouseError>) {
        guard case .waitingForInstance = phase else {
            // The request ended while its lease was on the way: hand it straight back.
            if case .success(let lease) = result { pool.release(lease) }
            return
        }
        let leased = if case .success = result { true } else { false }
        endSpan(.queue, failed: !leased)
        switch result {
        case .success(let lease): connect(lease)
        case .failure(let error): finish(failing: error)
        }
    }

    private func connect(_ lease: InstanceLease) {
        self.lease = lease
        phase = .connecting
        client.record.coldStart = lease.coldStart
        client.record.upstreamHost = lease.instance.upstreamHost
        if lease.coldStart, client.record.trace.isValid, let ready = lease.instance.readyAt {
            var span = RecordedSpan(kind: .coldStart, id: nextSpanId(), start: lease.instance.createdAt, end: ready)
            span.detail = "instance \(lease.instance.id) on \(lease.instance.upstreamHost)"
            client.record.spans.append(span)
        }
        let connections = lease.instance.connectionPools[client.loopIndex].value
        connections.acquire(fresh: staleRetried) { [self] result in
            switch result {
            case .success(let connection): send(over: connection)
            case .failure(let error): connectFailed(lease, error)
            }
        }
    }

    private func connectFailed(_ lease: InstanceLease, _ error: any Error) {
        guard case .connecting = phase else { return }
        // The instance no longer accepts connections: it is stopped and replaced, and the lease
        // dies with it.
        pool.reportUnhealthy(lease.instance)
        self.lease = nil
        if budget.connectFailed() {
            acquireInstance()
            return
        }
        client.record.responseFlags.insert(.upstreamConnectionFailure)
        finish(failing: GatehouseError(.upstreamConnectFailure, detail: "connecting to \(lease.instance.upstreamHost) failed: \(error)"))
    }

    /// This attempt goes to another node (its lease is a peer's), or came from one (taken by `NodeHopReceiver`).
    private var nodeHop: NodeHopHeaders? {
        if let peer = lease?.instance.nodeHop {
            return .sending(revision: peer.revision, subject: client.record.extensions[NodeHop.Subject.self], target: peer.node)
        }
        guard client.record.extensions[NodeHop.Accepted.self] == true else { return nil }
        return .received(clientCertificate: client.record.extensions[NodeHop.Arrived.self]?.clientCertificate ?? [])
    }

    private func send(over connection: UpstreamConnection) {
        guard case .connecting = phase else {
            // The exchange ended (timeout, client gone) while connecting; this connection is not needed.
            connection.channel.close(promise: nil)
            return
        }
        phase = .forwarding
        upstream = connection
        reusedConnection = connection.reused
        connection.handler.delegate = self
        client.record.attempts += 1
        let attemptSpan = nextSpanId()
        if client.record.trace.isValid {
            client.record.spans.append(RecordedSpan(kind: .upstreamAttempt, id: attemptSpan, start: .now, detail: lease?.instance.upstreamHost))
        }
        let head = ForwardedHeaders.upstreamRequest(
            client.head, requestId: client.record.requestId, clientAddress: client.record.downstreamAddress,
            forwardedFor: &client.record.forwardedFor, path: client.record.path.value,
            edits: client.record.upstreamHeaders, peer: client.record.peer, destinationIdentity: client.record.destination?.identity,
            remote: pool.remote, overTLS: client.record.overTLS, upgrade: client.upgrade,
            trace: client.record.trace, parentSpan: client.record.trace.isMirror ? client.record.trace.spanId : attemptSpan,
            hop: nodeHop)
        client.record.upstreamStart = .now
        do {
            try connection.write(head: head)
        } catch {
            // Nothing was written: the connection is as clean as it came.
            upstream = nil
            connection.handler.delegate = nil
            lease?.instance.connectionPools[client.loopIndex].value.release(connection)
            return finish(failing: GatehouseError(.invalidForwardedRequest, detail: "\(error)"))
        }
        // A retry sends the whole body again; the first attempt what arrived before it connected.
        for part in client.record.attempts > 1 ? (budget.replay ?? []) : pendingBody {
            connection.write(body: part)
        }
        pendingBody = []
        pendingBodyBytes = 0
        perTryTimeout?.cancel()
        perTryTimeout = nil
        if requestEnded { armPerTryTimeout() }
        if requestEnded { connection.writeEnd() }
        flushUpstream(connection)
        if connection.channel.isWritable { client.resumeReading() } else { client.pauseReading() }
    }

    // MARK: ExchangeDelegate

    func requestBodyPart(_ buffer: ByteBuffer) {
        for shadow in shadows { shadow.bodyPart(buffer) }
        budget.keep(buffer)
        if let upstream, case .forwarding = phase {
            upstream.write(body: buffer)
            flushUpstream(upstream)
            if !upstream.channel.isWritable { client.pauseReading() }
        } else {
            pendingBody.append(buffer)
            pendingBodyBytes += buffer.readableBytes
            if pendingBodyBytes > Self.maxPendingBodyBytes { client.pauseReading() }
        }
    }

    func upstreamWritable() {
        if case .forwarding = phase { client.resumeReading() }
    }

    func requestBodyEnd() {
        requestEnded = true
        for shadow in shadows { shadow.end() }
        if case .forwarding = phase, perTryTimeout == nil { armPerTryTimeout() }
        if let upstream, case .forwarding = phase {
            upstream.writeEnd()
            flushUpstream(upstream)
        }
    }

    func clientDisconnected() {
        // The record is already finished with flag DC; release what the request held.
        for shadow in shadows { shadow.abandon() }
        discardUpstream()
        endPhase()
    }

    // MARK: UpstreamResponseDelegate

    func upstreamResponseHead(_ head: HTTPResponseHead) {
        guard case .forwarding = phase else { return }
        if head.status == .switchingProtocols {
            guard client.upgrade != nil, let upstream else {
                finish(failing: GatehouseError(.upstreamReset, detail: "the function switched protocols unasked"))
                return
            }
            return startTunnel(head, over: upstream)
        }
        // Informational responses (100 Continue, 103 Early Hints) are not passed on; the final one is.
        if head.status.code < 200 { return }
        if let lease, lease.instance.nodeHop != nil, let reason = head.headers.first(name: NodeHop.refusedHeader) {
            // A home that has not applied the revision yet is not passed over: it will in a moment.
            let passOver = reason != NodeHop.Refusal.notServed.rawValue
            if passOver { pool.reportUnhealthy(lease.instance) }
            if runHereInstead(of: lease, because: "the node refused the hop (\(reason))") { return }
        }
        if let lease { pool.reportAnswer(lease.instance, status: Int(head.status.code)) }
        switch budget.after(.status(Int(head.status.code)), retryable: retryable) {
        case .retry: return retry(after: "answered \(head.status.code)", status: Int(head.status.code))
        case .stop(let limitReached): if limitReached { client.record.responseFlags.insert(.upstreamRetryLimitExceeded) }
        }
        perTryTimeout?.cancel()
        perTryTimeout = nil
        responseHeadReceived = true
        setAttemptStatus(Int(head.status.code))
        responseKeepAlive = head.isKeepAlive
        var head = head
        if client.record.isGRPC, let status = GRPC.status(in: head.headers) {
            // gRPC's trailers-only answer (HEADERS ending the stream) reaches here as a head and an
            // end: its status moves to trailers, where a client reads it after a head that has none.
            client.record.grpcStatus = status
            statusTrailers = GRPC.takeStatus(from: &head.headers)
        }
        if let started = client.record.upstreamStart { client.record.upstreamServiceTime = .now - started }
        client.sendHead(ForwardedHeaders.downstreamResponse(head))
    }

    func upstreamResponseBody(_ buffer: ByteBuffer) {
        guard case .forwarding = phase else { return }
        client.sendBody(buffer)
        if !client.isClientWritable, !upstreamPaused, let upstream {
            // Paused before the flush: the flush can make the client writable again at once (an
            // HTTP/2 stream's bytes leave as the flush passes them on), and that must resume it.
            upstreamPaused = true
            try? upstream.channel.syncOptions?.setOption(.autoRead, value: false)
            client.flush()
            if client.isClientWritable { resumeUpstream() }
        }
    }

    func clientBecameWritable() {
        resumeUpstream()
    }

    private func resumeUpstream() {
        guard upstreamPaused, let upstream else { return }
        upstreamPaused = false
        try? upstream.channel.syncOptions?.setOption(.autoRead, value: true)
    }

    func upstreamReadComplete() {
        if case .forwarding = phase { client.flush() }
    }

    func upstreamResponseEnd(trailers: HTTPHeaders?) {
        guard case .forwarding = phase, let upstream else { return }
        var trailers = trailers
        if let statusTrailers, trailers?.contains(name: "grpc-status") != true {
            trailers = trailers ?? HTTPHeaders()
            trailers?.add(contentsOf: statusTrailers)
        }
        if client.record.isGRPC, let trailers, let status = GRPC.status(in: trailers) { client.record.grpcStatus = status }
        resumeUpstream()  // a pooled connection must read again
        self.upstream = nil
        upstream.handler.delegate = nil
        // Read the pool before `endPhase` gives the lease back.
        let connections = lease?.instance.connectionPools[client.loopIndex].value
        endSpan(.upstreamAttempt)
        endPhase()
        if (responseKeepAlive || upstream.multiplexed), requestEnded, let connections {
            connections.release(upstream)
        } else {
            upstream.channel.close(promise: nil)
        }
        client.sendEnd(trailers: trailers)
    }

    func upstreamClosed() {
        guard case .forwarding = phase else { return }
        let failure = upstream?.handler.failure
        upstream = nil
        if !responseHeadReceived, !reusedConnection, let failure, Self.isTLSRefusal(failure) {
            // A TLS server refusing the client's certificate: with TLS 1.3 its alert arrives after the
            // client's handshake completed, so it shows here rather than while connecting.
            // Only a request safe to send twice: a fatal alert can also end a connection the home was already serving on.
            if let lease, lease.instance.nodeHop != nil {
                pool.reportUnhealthy(lease.instance)
                if isReplayable, runHereInstead(of: lease, because: "the node refused the TLS handshake: \(failure)") { return }
            }
            client.record.responseFlags.insert(.upstreamConnectionFailure)
            finish(failing: GatehouseError(.upstreamConnectFailure, detail: "TLS with \(pool.remote?.authority ?? "the instance") failed: \(failure)"))
            return
        }
        if reusedConnection, !responseHeadReceived, !staleRetried, isReplayable, let lease {
            // A kept-alive connection the function closed just as the request was sent (Node closes
            // idle connections after 5 s, for example): nothing was answered and the request has no
            // body, so it is sent again on a fresh connection, as Go's HTTP client does.
            staleRetried = true
            phase = .connecting
            connect(lease)
            return
        }
        // The node this request was passed to went away mid-way (killed, or its drain ended):
        // nothing was answered, and a request safe to send twice runs here instead.
        if !responseHeadReceived, isReplayable, let lease, lease.instance.nodeHop != nil {
            pool.reportUnhealthy(lease.instance)
            if runHereInstead(of: lease, because: "the node closed the connection before answering") { return }
        }
        if !responseHeadReceived, let lease { pool.reportAnswer(lease.instance, status: nil) }
        if !responseHeadReceived {
            switch budget.after(.reset, retryable: retryable) {
            case .retry: return retry(after: "the connection closed before a response")
            case .stop(let limitReached): if limitReached { client.record.responseFlags.insert(.upstreamRetryLimitExceeded) }
            }
        }
        client.record.responseFlags.insert(.upstreamConnectionTermination)
        finish(failing: GatehouseError(.upstreamReset, detail: "the instance closed the connection before the response ended"))
    }

    /// An attempt passed to another node that it refused, or could not take, before running
    /// anything (the caller has passed that node over when it should): the request runs on this
    /// node instead — once, and only when its whole body can be sent again (kept up to 64 KiB for
    /// any request that may go to another node).
    private func runHereInstead(of lease: InstanceLease, because reason: String) -> Bool {
        guard lease.instance.nodeHop != nil, !peerRetried, requestEnded, client.record.bytesReceived == 0 || budget.replay != nil
        else { return false }
        peerRetried = true
        retry(after: reason)
        return true
    }

    /// Safe to send twice: an idempotent method and no body.
    private var isReplayable: Bool {
        guard requestEnded, client.record.bytesReceived == 0 else { return false }
        switch client.head.method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .DELETE, .PUT: return true
        default: return false
        }
    }

    // MARK: Upgrades

    /// The function accepted the WebSocket handshake: its 101 goes to the client and the two
    /// connections become one tunnel, which holds the instance's slot until it closes. The function
    /// timeout no longer applies; the tunnel's idle timeout does.
    private func startTunnel(_ head: HTTPResponseHead, over upstream: UpstreamConnection) {
        perTryTimeout?.cancel()
        perTryTimeout = nil
        disarmTimeout()
        phase = .tunnel
        responseHeadReceived = true
        upstream.handler.delegate = nil
        self.upstream = nil
        if let lease { pool.reportAnswer(lease.instance, status: 101) }
        if let started = client.record.upstreamStart { client.record.upstreamServiceTime = .now - started }
        var response = ForwardedHeaders.downstreamResponse(head)
        response.headers.replaceOrAdd(name: "connection", value: "upgrade")
        response.headers.replaceOrAdd(name: "upgrade", value: head.headers.first(name: "upgrade") ?? client.upgrade ?? "websocket")
        // On the next turn of the loop: the response decoder is still inside this read.
        client.eventLoop.assumeIsolated().execute { [self] in
            guard case .tunnel = phase, !client.isFinished else {
                upstream.channel.close(promise: nil)
                return
            }
            upstream.channel.pipeline.syncOperations.removeHandler(upstream.handler, promise: nil)
            client.startTunnel(response, to: upstream.channel) { [self] in
                upstream.channel.close(promise: nil)
                endPhase()
            }
        }
    }

    // MARK: Retries

    /// An attempt can be repeated once the whole request arrived, while nothing of the response
    /// went to the client.
    private var retryable: Bool {
        requestEnded && !responseHeadReceived && !client.isFinished
    }

    /// Drops this attempt's connection and lease and starts the next attempt (on any instance).
    private func retry(after reason: String, status: Int = 0) {
        setAttemptStatus(status)
        endSpan(.upstreamAttempt, failed: true, detail: reason)
        perTryTimeout?.cancel()
        perTryTimeout = nil
        discardUpstream()
        releaseLease()
        reusedConnection = false
        phase = .connecting
        acquireInstance()
    }

    /// Envoy's per-try timer starts once the whole request has been sent on.
    private func armPerTryTimeout() {
        guard let perTry = budget.perTryTimeout else { return }
        perTryTimeout = client.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(perTry.nanosecondsClamped)) { [self] in
            attemptTimedOut()
        }
    }

    /// A TLS handshake failure or alert (a server refusing the certificate), not a connection that
    /// merely ended without close_notify mid-exchange.
    static func isTLSRefusal(_ error: any Error) -> Bool {
        if let error = error as? NIOSSLError {
            if case .uncleanShutdown = error { return false }
            return true
        }
        return error is BoringSSLError
    }

    /// `perTryTimeout` passed: the attempt is abandoned, and retried while the policy allows.
    private func attemptTimedOut() {
        perTryTimeout = nil
        guard case .forwarding = phase, !responseHeadReceived else { return }
        if let lease { pool.reportAnswer(lease.instance, status: nil) }  // a hung instance counts as failing
        let decision = budget.after(.perTryTimeout, retryable: retryable)
        if decision == .retry { return retry(after: "no response within the per-try timeout") }
        client.record.responseFlags.insert(.upstreamRequestTimeout)
        if decision == .stop(retryLimitReached: true) { client.record.responseFlags.insert(.upstreamRetryLimitExceeded) }
        finish(failing: GatehouseError(.upstreamTimeout, detail: "no response within the per-try timeout after \(client.record.attempts) attempts"))
    }

    // MARK: Ending

    func deadlinePassed() {
        timedOut()
    }

    private func timedOut() {
        timeout = nil
        guard !client.isFinished else { return }
        // A deadline the caller chose says nothing of the instance: it is not counted against its
        // health (else tiny grpc-timeouts could get healthy instances ejected).
        if case .forwarding = phase, !responseHeadReceived, !limit.callers, let lease { pool.reportAnswer(lease.instance, status: nil) }
        client.record.responseFlags.insert(.upstreamRequestTimeout)
        finish(failing: GatehouseError(.upstreamTimeout, detail: "no complete response within \(limit.duration.gatehouseDescription)"))
    }

    /// The most the exchange may take: the function's timeout, the route's, and a gRPC caller's
    /// `grpc-timeout` (honoured as Istio's routes do, with no cap of their own); `callers` when
    /// the caller's is the shortest.
    private var limit: (duration: Duration, callers: Bool) {
        let configured = min(pool.timeout, client.record.routeTimeout ?? pool.timeout)
        if client.record.isGRPC, let value = client.head.headers.first(name: "grpc-timeout"), let asked = GRPC.timeout(value), asked < configured {
            return (asked, true)
        }
        return (configured, false)
    }

    private func finish(failing error: GatehouseError) {
        endSpan(.upstreamAttempt, failed: true, detail: error.detail)
        discardUpstream()
        endPhase()
        client.fail(error)
    }

    /// Closes an upstream connection that is mid-exchange: it cannot be reused.
    /// Sends what was written. An HTTP/2 stream's flush is held back by swift-nio-http2 while its
    /// connection is being read (to be done at the read's end); a stream written from another
    /// connection's read flushes the connection itself too, or its frames could wait for a read
    /// that never comes (the function waiting for them).
    private func flushUpstream(_ connection: UpstreamConnection) {
        connection.channel.flush()
        if connection.multiplexed { connection.channel.parent?.flush() }
    }

    private func discardUpstream() {
        if let upstream {
            upstream.handler.delegate = nil
            // Reading again first: an HTTP/2 stream paused with response bytes unread would keep
            // them counted against the connection's flow-control window, which its other streams share.
            resumeUpstream()
            upstream.channel.close(promise: nil)
            if upstream.multiplexed { lease?.instance.connectionPools[client.loopIndex].value.streamAbandoned(upstream.channel) }
            self.upstream = nil
        }
    }

    private func endPhase() {
        if case .waitingForInstance(let waiterID) = phase { pool.cancelWaiting(waiterID) }
        phase = .done
        disarmTimeout()
        perTryTimeout?.cancel()
        perTryTimeout = nil
        releaseLease()
    }

    private func disarmTimeout() {
        if let timeout { client.timer.disarm(timeout) }
        timeout = nil
    }

    // MARK: Spans

    /// The next child span's id under the gateway's span (derived, not drawn: see `SpanID.child`).
    private func nextSpanId() -> SpanID {
        client.record.trace.spanId.child(UInt64(client.record.spans.count + 1))
    }

    /// Ends the latest open span of `kind`, if there is one.
    private func endSpan(_ kind: RecordedSpan.Kind, failed: Bool = false, detail: String? = nil) {
        guard let index = client.record.spans.lastIndex(where: { $0.kind == kind && $0.end == nil }) else { return }
        client.record.spans[index].end = .now
        client.record.spans[index].failed = failed
        if let detail { client.record.spans[index].detail = detail }
    }

    private func setAttemptStatus(_ status: Int) {
        guard let index = client.record.spans.lastIndex(where: { $0.kind == .upstreamAttempt && $0.end == nil }) else { return }
        client.record.spans[index].status = status
    }

    private func releaseLease() {
        if let lease {
            self.lease = nil
            pool.release(lease)
        }
    }
}
