import GatehouseCore
import GatehouseExchange
import NIOCore
import NIOHTTP1

/// ① One client connection: turns parsed HTTP/1.1 parts into exchanges, one at a time. On HTTP/2
/// it serves one stream instead (its channel carries one request, translated to the same parts).
///
/// Pipelined requests (a client sending the next request before the previous response) are held
/// here, in order, until the exchange before them has ended, so responses go out in request order.
/// Reading is not paused per request (NIO's `HTTPServerPipelineHandler` does that, at the cost of
/// two `epoll_ctl` calls per request); only a client that piles up more than `maxQueuedParts`
/// parts or `maxQueuedBytes` bytes ahead is paused until the queue drains.
final class IngressConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maxQueuedParts = 64
    static let maxQueuedBytes = 1 << 20

    let renderer: any ErrorRenderer
    private let processor: any ExchangeProcessor
    private let observer: any ExchangeObserver
    private let limits: ListenerLimits
    private let loopIndex: Int
    private let tracker: ConnectionTracker
    /// Set on mutual TLS connections: who the peer proved to be during the handshake.
    private let peer: PeerBox?
    private let tls: ListenerTLS?
    private var exchange: ClientExchange?
    /// The request being received has sent its head but not yet its end.
    private var requestOpen = false
    /// Parts of pipelined requests that wait for the current exchange to end.
    private var queued: [HTTPServerRequestPart] = []
    private var queuedBytes = 0
    /// Reading from the client stops while either holds: too many pipelined parts are queued, or
    /// the current exchange's forwarder cannot pass the body on as fast as it arrives.
    private var pausedForQueue = false
    private var pausedForExchange = false
    /// Set for good once an `Upgrade` request arrives: its connection never carries another request.
    private var pausedForUpgrade = false
    private var drainScheduled = false
    /// Set once an exchange ended with the connection to be closed after it (a refused request,
    /// `Connection: close`, an unread body, draining): nothing the client sent after that request
    /// is taken as another request (RFC 9112 §9.6), even bytes already read and still being parsed.
    private var closingAfterExchange = false
    private var downstreamAddress: String?
    /// The listener side of the connection, as requests report it: read once per connection.
    private var localAddress: (ip: String?, port: Int)?
    /// When the connection last completed a part of a request or a response (monotonic).
    private var lastActivity = NIODeadline.now()
    /// When the open request last sent part of its body (or its head), for the body idle timeout.
    private var lastBodyActivity = NIODeadline.now()
    private(set) var isDraining = false
    /// The timeout of the request being served, reused by the next (see `RequestTimer`).
    private var requestTimer: RequestTimer?
    /// Where request and trace ids come from: the connection's (an HTTP/2 connection's streams share one).
    let random: RequestIdentifier.Source
    private let streamsTimer: RequestTimer?
    /// Whether requests join traces (see `TraceSwitch`).
    let traces: TraceSwitch
    /// Writes an HTTP/1.1 connection's responses as bytes; nil on an HTTP/2 stream, which takes HTTP parts.
    let responseWriter: HTTP1ResponseWriter?

    init(
        processor: any ExchangeProcessor, observer: any ExchangeObserver, renderer: any ErrorRenderer,
        limits: ListenerLimits, loopIndex: Int, tracker: ConnectionTracker, peer: PeerBox? = nil, tls: ListenerTLS? = nil,
        traces: TraceSwitch = TraceSwitch(), random: RequestIdentifier.Source = RequestIdentifier.Source(),
        streamsTimer: RequestTimer? = nil, responseWriter: HTTP1ResponseWriter? = nil
    ) {
        self.responseWriter = responseWriter
        self.traces = traces
        self.random = random
        self.streamsTimer = streamsTimer
        self.peer = peer
        self.tls = tls
        self.processor = processor
        self.observer = observer
        self.renderer = renderer
        self.limits = limits
        self.loopIndex = loopIndex
        self.tracker = tracker
    }

    func handlerAdded(context: ChannelHandlerContext) {
        downstreamAddress = context.channel.remoteAddress?.ipAddress
        localAddress = context.channel.localAddress.map { ($0.ipAddress, $0.port ?? 0) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closingAfterExchange else { return }
        let part = unwrapInboundIn(data)
        switch part {
        case .head: lastActivity = .now()
        case .body: lastBodyActivity = .now()
        case .end: break
        }
        if !queued.isEmpty || (exchange != nil && !requestOpen) {
            enqueue(part, context: context)
        } else {
            process(part, context: context)
        }
    }

    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(var received):
            requestOpen = true
            lastBodyActivity = .now()
            var arrivedHop: NodeHop.Arrived?
            // Only Gatehouse says who a verified peer or user is: a caller's own claim is gone before
            // any stage (policies, authorizers) can read it. Another node's hop is kept aside over
            // mutual TLS only (`NodeHopReceiver` takes it only from a gateway's SVID, restoring the
            // client certificate the sending node vouched for); its headers never go further.
            if peer?.identity != nil, let revision = received.headers.first(name: NodeHop.revisionHeader) {
                arrivedHop = NodeHop.Arrived(
                    revision: revision, subject: received.headers.first(name: NodeHop.subjectHeader),
                    target: received.headers.first(name: NodeHop.targetHeader), clientCertificate: received.headers[IdentityHeaders.clientCertificate])
            }
            if Self.carriesGatehouseHeaders(received.headers) {
                received.headers.remove(name: IdentityHeaders.clientCertificate)
                received.headers.remove(name: IdentityHeaders.assertion)
                for name in NodeHop.requestHeaders { received.headers.remove(name: name) }
            }
            // Framing, target and host are settled before any stage runs (see RequestHeadCheck).
            let checked: Result<HTTPRequestHead, GatehouseError> = RequestTarget.originForm(received).map(RequestHeadCheck.check)
                ?? .failure(GatehouseError(.badRequest, detail: "request target is neither origin- nor absolute-form", reason: "invalid_target"))
            let head = (try? checked.get()) ?? received
            let upgrade = UpgradeRequest(head)
            if upgrade != nil {
                // NIO's parser stops at an upgrade and buffers whatever follows: read nothing more
                // until the upgrade is answered (the connection closes after a refusal).
                pausedForUpgrade = true
                updateReading(context)
            }
            let exchange = ClientExchange(
                head: head, connection: self, context: context, loopIndex: loopIndex, limits: limits,
                downstreamAddress: downstreamAddress, localAddress: localAddress,
                upgrade: upgrade.flatMap { $0.isWebSocket ? $0.protocols : nil })
            self.exchange = exchange
            exchange.record.peer = peer?.identity
            if let hop = arrivedHop { exchange.record.extensions[NodeHop.Arrived.self] = hop }
            exchange.record.sni = peer?.serverName
            exchange.record.overTLS = tls != nil
            observer.exchangeBegan(&exchange.record)
            if case .failure(let refusal) = checked {
                exchange.fail(refusal)
            } else if let violation = checkLimits(received) {
                exchange.fail(violation)
            } else if let upgrade, !upgrade.isWebSocket {
                exchange.fail(upgrade.refusal)
            } else {
                processor.begin(exchange)
            }
        case .body(let buffer):
            // With no exchange, this is the rest of a request that was answered early: dropped.
            if requestOpen { exchange?.receiveBody(buffer) }
        case .end:
            requestOpen = false
            exchange?.receiveEnd()
        }
    }

    private func enqueue(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        queued.append(part)
        if case .body(let buffer) = part { queuedBytes += buffer.readableBytes }
        if !pausedForQueue, queued.count > Self.maxQueuedParts || queuedBytes > Self.maxQueuedBytes {
            pausedForQueue = true
            updateReading(context)
        }
    }

    /// Feeds queued parts in until one of them starts an exchange that must end first.
    private func drainQueue(context: ChannelHandlerContext) {
        drainScheduled = false
        while !queued.isEmpty, exchange == nil || requestOpen {
            let part = queued.removeFirst()
            if case .body(let buffer) = part { queuedBytes -= buffer.readableBytes }
            process(part, context: context)
        }
        if pausedForQueue, queued.isEmpty {
            pausedForQueue = false
            updateReading(context)
        }
        if isDraining, exchange == nil, queued.isEmpty { context.close(promise: nil) }
    }

    /// Called by the current exchange (see `ClientExchange.pauseReading`).
    func setPausedForExchange(_ paused: Bool, context: ChannelHandlerContext) {
        guard paused != pausedForExchange else { return }
        pausedForExchange = paused
        updateReading(context)
    }

    private func updateReading(_ context: ChannelHandlerContext) {
        let reading = !(pausedForQueue || pausedForExchange || pausedForUpgrade)
        try? context.channel.syncOptions?.setOption(.autoRead, value: reading)
        // An HTTP/2 stream channel does not start reading again by itself when autoRead comes back
        // on (a socket channel does; for it this read is already pending and costs nothing).
        if reading { context.read() }
    }

    /// The connection's request timer, made for its first request; an HTTP/2 stream's is its
    /// connection's (`streamsTimer`, stopped with the connection, not with the stream).
    func timer(on loop: any EventLoop) -> RequestTimer {
        if let streamsTimer { return streamsTimer }
        if let requestTimer { return requestTimer }
        let timer = RequestTimer(loop: loop, reused: true)
        requestTimer = timer
        return timer
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A WebSocket tunnel takes this handler out of the pipeline: no request follows.
        requestTimer?.stop()
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.clientClosed()
        requestTimer?.stop()
        queued.removeAll()
        tracker.remove(context.channel)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.clientWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Past a closing exchange, what follows is not a request (llhttp refuses data after
        // `Connection: close`): no answer, the connection closes.
        guard let parserError = error as? HTTPParserError, !closingAfterExchange else {
            context.close(promise: nil)
            return
        }
        // An unparsable request gets one error response, then the connection closes. If another
        // exchange is still being served, its response cannot be interleaved: the connection closes.
        if let exchange {
            exchange.abortFromListener()
            return
        }
        let failure: GatehouseError
        if case .headerOverflow = parserError {
            failure = GatehouseError(.headersTooLarge, detail: "request headers exceeded the parser's limit")
        } else {
            failure = GatehouseError(.badRequest, detail: "malformed HTTP request: \(parserError)")
        }
        let exchange = ClientExchange(
            head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"), connection: self, context: context,
            loopIndex: loopIndex, limits: limits, downstreamAddress: downstreamAddress, localAddress: localAddress)
        self.exchange = exchange
        queued.removeAll()
        observer.exchangeBegan(&exchange.record)
        exchange.fail(failure)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let check = event as? IdleCheck {
            if exchange == nil, queued.isEmpty, check.now - lastActivity >= .nanoseconds(limits.idleTimeout.nanosecondsClamped) {
                context.close(promise: nil)
            } else if let exchange, requestOpen, queued.isEmpty {
                if pausedForQueue || pausedForExchange || pausedForUpgrade {
                    lastBodyActivity = check.now  // Gatehouse stopped reading: not the client's delay
                } else if check.now - lastBodyActivity >= .nanoseconds(limits.requestBodyIdleTimeout.nanosecondsClamped) {
                    exchange.failFromListener(GatehouseError(
                        .requestTimeout, detail: "no request body for \(limits.requestBodyIdleTimeout.gatehouseDescription)"))
                }
            }
        } else if event is DrainConnection {
            isDraining = true
            if exchange == nil, queued.isEmpty { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Called by an exchange that ends with the connection, before it finishes: requests pipelined
    /// behind it are dropped, not served.
    func closeAfterExchange() {
        closingAfterExchange = true
        queued.removeAll()
        queuedBytes = 0
    }

    /// Called by the exchange as it ends, before its last write. Queued requests are started on
    /// the next loop iteration, after that write, so responses keep their order.
    func exchangeFinished(_ finished: ClientExchange, context: ChannelHandlerContext) {
        if exchange === finished { exchange = nil }
        lastActivity = .now()
        setPausedForExchange(false, context: context)
        observer.exchangeFinished(&finished.record)
        if !queued.isEmpty, !drainScheduled {
            drainScheduled = true
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.drainQueue(context: context)
            }
        }
    }

    /// The exchange became a tunnel and ended: its record is written, the connection forgotten.
    /// (This handler left the pipeline when the tunnel started.)
    func tunnelClosed(_ record: RequestRecord, channel: any Channel) {
        tracker.remove(channel)
        var record = record
        observer.exchangeFinished(&record)
    }

    /// Whether a caller sent a header only Gatehouse sets (`x-forwarded-client-cert`, or one
    /// starting `x-gatehouse-`): one pass over the names, as most requests carry none.
    static func carriesGatehouseHeaders(_ headers: HTTPHeaders) -> Bool {
        headers.contains { HeaderName.is($0.name, "x-forwarded-client-cert") || HeaderName.starts($0.name, with: "x-gatehouse-") }
    }

    private func checkLimits(_ head: HTTPRequestHead) -> GatehouseError? {
        var headerBytes = head.uri.utf8.count + 16
        for (name, value) in head.headers {
            headerBytes += name.utf8.count + value.utf8.count + 4
        }
        if headerBytes > limits.maxHeaderBytes {
            return GatehouseError(.headersTooLarge, detail: "request headers are \(headerBytes) bytes, limit \(limits.maxHeaderBytes)")
        }
        if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limits.maxBodyBytes {
            return GatehouseError(.bodyTooLarge, detail: "content-length \(length) exceeds \(limits.maxBodyBytes)")
        }
        return nil
    }
}

/// Sent to every connection when the listener shuts down: finish the current response, then close.
struct DrainConnection: Sendable {}

/// Sent to every connection now and then: close if idle for longer than the idle timeout.
struct IdleCheck: Sendable {
    let now: NIODeadline
}
