import GatehouseCore
import GatehouseExchange
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// The client side of one request: the parsed head, its record, and the way to answer it.
///
/// Confined to the connection's event loop: every method must be called there. Exactly one of
/// `sendEnd`, `fail` or `abort` ends it; telemetry is told once, at that moment.
public final class ClientExchange: Exchange {
    /// Set by the forwarder; body parts that arrived before it was set are replayed to it.
    public override var delegate: (any ExchangeDelegate)? {
        didSet { replayBufferedBody() }
    }

    private var started = false
    public override var responseStarted: Bool { started }
    private var finished = false
    public override var isFinished: Bool { finished }
    public private(set) var requestComplete = false

    private let connection: IngressConnectionHandler
    private let context: ChannelHandlerContext
    private let limits: ListenerLimits
    private var bufferedBody: [ByteBuffer] = []
    private var bufferedBytes = 0
    /// Reading stopped because the body piled up before a forwarder took it (a stage was verifying a
    /// token or asking an authorizer); undone when the forwarder arrives.
    private var pausedUntilDelegate = false
    /// Body held before the forwarder takes it; past this the client is not read until it does.
    static let maxBufferedBeforeDelegate = 256 * 1024
    private var keepAlive: Bool
    /// An HTTP/2 stream: no `connection` header, and "closing" resets only the stream.
    private let multiplexed: Bool

    init(
        head: HTTPRequestHead, connection: IngressConnectionHandler, context: ChannelHandlerContext,
        loopIndex: Int, limits: ListenerLimits, downstreamAddress: String?, localAddress: (ip: String?, port: Int)?,
        upgrade: String? = nil
    ) {
        self.connection = connection
        self.context = context
        self.limits = limits
        // An HTTP/2 stream ends with its exchange; its connection carries on. Decided by the
        // pipeline, not the request line (llhttp reads `HTTP/2.0` there too).
        self.multiplexed = connection.responseWriter == nil
        self.keepAlive = multiplexed || (head.isKeepAlive && upgrade == nil)
        // A WebSocket upgrade's `Upgrade` value: passed on to the function, and the connection
        // becomes a tunnel if it answers 101 (it cannot carry another request either way).
        super.init(
            head: head, record: Self.record(of: head, on: connection, from: downstreamAddress, to: localAddress),
            eventLoop: context.eventLoop, loopIndex: loopIndex, upgrade: upgrade,
            // A connection's requests share its timer; an HTTP/2 connection's streams, the connection's.
            timer: connection.timer(on: context.eventLoop))
    }

    /// The new request's record. Made in a function of its own so that it is moved into the
    /// exchange rather than copied (a copy retains, then releases, every string it holds).
    private static func record(
        of head: HTTPRequestHead, on connection: IngressConnectionHandler, from downstreamAddress: String?,
        to localAddress: (ip: String?, port: Int)?
    ) -> RequestRecord {
        let requestId = RequestIdentifier.accept(head.headers.first(name: "x-request-id"))
            ?? RequestIdentifier.generate(using: &connection.random.generator)
        var record = RequestRecord(
            requestId: requestId, startWallNanos: WallClock.nanosSinceEpoch(), start: .now, method: head.method.rawValue,
            path: head.uri, httpProtocol: protocolName(head.version),
            authority: head.headers.first(name: "host") ?? "")
        record.userAgent = head.headers.first(name: "user-agent")
        record.isGRPC = GRPC.isCall(head.headers)
        if connection.traces.isOn { record.trace = TraceContext.extract(from: head.headers, using: &connection.random.generator) }
        record.downstreamAddress = downstreamAddress
        record.destinationAddress = localAddress?.ip
        record.destinationPort = localAddress?.port ?? 0
        return record
    }

    // MARK: Answering

    /// Starts the response — the function's or one Gatehouse made — through the response phase:
    /// the stages' response header edits (a route's `headers.response`, CORS, rate-limit headers)
    /// apply to either, then `x-request-id` is added and `connection` set to match keep-alive.
    public override func sendHead(_ response: HTTPResponseHead) {
        guard !isFinished, !responseStarted else { return }
        started = true
        var response = response
        record.responseCode = Int(response.status.code)
        record.responseHeaders.apply(to: &response.headers)
        response.headers.replaceOrAdd(name: "x-request-id", value: record.requestId)
        if connection.isDraining { keepAlive = false }
        // An HTTP/1.0 caller cannot read chunks: a body of unknown length ends with the connection.
        if !multiplexed, head.version.minor == 0, head.version.major == 1, HTTP1ResponseWriter.closeDelimited(response, answering: head.method) {
            keepAlive = false
        }
        if multiplexed {
            // Connection-specific headers are forbidden on HTTP/2 (RFC 9113 §8.2.2).
        } else if !keepAlive {
            response.headers.replaceOrAdd(name: "connection", value: "close")
        } else if head.version.major == 1 && head.version.minor == 0 {
            response.headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
        guard let writer = connection.responseWriter else {
            return context.write(NIOAny(HTTPServerResponsePart.head(response)), promise: nil)
        }
        do {
            context.write(NIOAny(IOData.byteBuffer(try writer.head(response, answering: head, allocator: context.channel.allocator))), promise: nil)
        } catch {
            refuseInvalid(error)
        }
    }

    public override func sendBody(_ buffer: ByteBuffer) {
        guard !isFinished, responseStarted else { return }
        record.bytesSent += buffer.readableBytes
        guard let writer = connection.responseWriter else {
            return context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
        }
        var parts: [ByteBuffer] = []
        writer.body(buffer, allocator: context.channel.allocator, into: &parts)
        for part in parts { context.write(NIOAny(IOData.byteBuffer(part)), promise: nil) }
    }

    public override func flush() {
        guard !isFinished else { return }
        context.flush()
    }

    /// Whether the client can take more response bytes now (for back-pressure on the upstream).
    public override var isClientWritable: Bool { context.channel.isWritable }

    /// Stops reading the request body from the client until `resumeReading` (back-pressure when
    /// the body cannot be passed on as fast as it arrives). Undone when the exchange ends.
    public override func pauseReading() {
        if !isFinished { connection.setPausedForExchange(true, context: context) }
    }

    public override func resumeReading() {
        if !isFinished { connection.setPausedForExchange(false, context: context) }
    }

    /// Ends the response. A connection whose request body was not read to its end is closed
    /// (a request without a body may end after an early response: its end is simply skipped).
    public override func sendEnd(trailers: HTTPHeaders? = nil) {
        guard !isFinished, responseStarted else { return }
        let unreadBody = !requestComplete && Self.declaresBody(head)
        let closeAfter = !keepAlive || unreadBody || connection.isDraining
        if closeAfter { connection.closeAfterExchange() }
        finish()
        let end: NIOAny = if let writer = connection.responseWriter {
            NIOAny(IOData.byteBuffer(writer.end(trailers: trailers.map { passable($0) }, allocator: context.channel.allocator) ?? Self.nothing))
        } else {
            NIOAny(HTTPServerResponsePart.end(trailers.map { passable($0) }))
        }
        if closeAfter {
            let channel = context.channel
            let multiplexed = multiplexed
            context.writeAndFlush(end).whenComplete { _ in
                if multiplexed {
                    HTTP2EarlyResponse.stopRequestBody(on: channel)
                } else {
                    channel.close(promise: nil)
                }
            }
        } else {
            context.writeAndFlush(end, promise: nil)
        }
    }

    /// Ends the exchange with an error response, or by closing the connection if a response
    /// has already started (its status can no longer change).
    public override func fail(_ error: GatehouseError) {
        guard !isFinished else { return }
        record.failure = error
        guard !responseStarted else {
            abort()
            return
        }
        let rendered = connection.renderer.render(error, requestId: record.requestId)
        record.responseFlags.formUnion(rendered.flags)
        // After these the connection cannot carry another request: say so in the response.
        if error.code == .headersTooLarge || error.code == .bodyTooLarge || error.code == .badRequest
            || error.code == .unsupportedTransferCoding || error.code == .upgradeRefused || error.code == .requestTimeout {
            keepAlive = false
        }
        if record.isGRPC {
            // A gRPC client reads a status from trailers; an HTTP error body would only tell it "UNKNOWN".
            let refusal = GRPC.refusal(rendered, for: error, requestId: record.requestId)
            record.grpcStatus = refusal.status
            if !requestComplete && Self.declaresBody(head) { keepAlive = false }
            sendHead(refusal.head)
            sendEnd(trailers: refusal.trailers)
            return
        }
        sendWhole(status: rendered.status, headers: rendered.headers, body: rendered.body)
    }

    /// Ends the exchange with a response Gatehouse made itself (a redirect, a direct response, a
    /// CORS preflight answer): not a failure; the access log shows its `details`.
    public override func sendWhole(status: HTTPResponseStatus, headers: HTTPHeaders, body: String) {
        // With a request body still unread, the connection cannot carry another request.
        if !requestComplete && Self.declaresBody(head) { keepAlive = false }
        super.sendWhole(status: status, headers: headers, body: body)
    }


    /// Ends the exchange by closing the client connection (the response cannot be completed).
    public override func abort() {
        guard !isFinished else { return }
        connection.closeAfterExchange()
        finish()
        context.close(promise: nil)
    }

    /// The listener ends the exchange and the connection (the caller sent bytes that are not
    /// HTTP): what serves the request is told, as when the caller leaves, so it lets go of its
    /// instance and upstream connection instead of holding them until the function answers (or
    /// forever: the connection's timer stops with it). Not in `abort()`: the forwarder calls that
    /// itself, through `fail`, and must not be told of its own failure.
    func abortFromListener() {
        end(flag: .downstreamProtocolError) { abort() }
    }

    // MARK: Upgrading

    /// Sends the function's 101 and turns the connection into a byte tunnel to `upstream` (which
    /// must be on this exchange's event loop): the HTTP handlers leave both pipelines, and bytes flow
    /// both ways with back-pressure until either side closes or nothing passes either way for the
    /// listener's idle timeout (`--client-idle-timeout`). Then the access log gets the exchange
    /// (bytes both ways, duration) and `onClose` runs.
    public override func startTunnel(_ response: HTTPResponseHead, to upstream: any Channel, onClose: @escaping () -> Void) {
        guard !isFinished, !responseStarted, upgrade != nil else { return }
        var response = response
        record.responseHeaders.apply(to: &response.headers)
        response.headers.replaceOrAdd(name: "x-request-id", value: record.requestId)
        var bytes: ByteBuffer?
        if let writer = connection.responseWriter {
            do {
                bytes = try writer.head(response, answering: head, allocator: context.channel.allocator)
            } catch {
                upstream.close(promise: nil)
                return refuseInvalid(error)
            }
        }
        started = true
        finished = true
        delegate = nil
        onClientGone = nil
        record.responseCode = Int(response.status.code)
        if let bytes {
            context.writeAndFlush(NIOAny(IOData.byteBuffer(bytes)), promise: nil)
        } else {
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(response)), promise: nil)
        }

        let (clientSide, upstreamSide) = TunnelHandler.pair()
        let channel = context.channel
        let connection = self.connection
        clientSide.onClose = { [self] in
            record.bytesReceived += clientSide.bytesRead
            record.bytesSent += upstreamSide.bytesRead
            record.duration = .now - record.start
            connection.tunnelClosed(record, channel: channel)
            onClose()
        }
        do {
            let client = context.pipeline.syncOperations
            try client.addHandler(IdleStateHandler(allTimeout: .nanoseconds(limits.idleTimeout.nanosecondsClamped)))
            try client.addHandler(clientSide)
            try Self.removeHTTPHandlers(from: client)
            client.removeHandler(context: context, promise: nil)
            let server = upstream.pipeline.syncOperations
            try server.addHandler(upstreamSide)
            try Self.removeHTTPHandlers(from: server)
            // Reading was stopped at the upgrade request; the tunnel decides from now on.
            try channel.syncOptions?.setOption(.autoRead, value: true)
            try upstream.syncOptions?.setOption(.autoRead, value: true)
        } catch {
            channel.close(promise: nil)
            upstream.close(promise: nil)
        }
    }

    /// HTTP/1 codecs and whatever reads their parts. The function's decoder passes on the bytes it
    /// held (its first frames, sent with the 101); the client's drops any it sent before the 101,
    /// which RFC 6455 §4.1 forbids a client to do (NIO's server pipeline keeps no others).
    private static func removeHTTPHandlers(from pipeline: ChannelPipeline.SynchronousOperations) throws {
        func remove<Handler: RemovableChannelHandler>(_ type: Handler.Type) {
            if let handler = try? pipeline.handler(type: type) { pipeline.removeHandler(handler, promise: nil) }
        }
        remove(HTTPResponseEncoder.self)
        remove(NIOHTTPResponseHeadersValidator.self)
        remove(HTTPRequestEncoder.self)
        remove(NIOHTTPRequestHeadersValidator.self)
        remove(ByteToMessageHandler<HTTPRequestDecoder>.self)
        remove(ByteToMessageHandler<HTTPResponseDecoder>.self)
        if (try? pipeline.context(name: Exchange.upstreamDecoderName)) != nil {
            pipeline.removeHandler(name: Exchange.upstreamDecoderName, promise: nil)
        }
    }

    // MARK: Called by the connection handler

    func receiveBody(_ buffer: ByteBuffer) {
        guard !isFinished else { return }
        record.bytesReceived += buffer.readableBytes
        if record.bytesReceived > limits.maxBodyBytes {
            failFromListener(GatehouseError(.bodyTooLarge, detail: "request body exceeded \(limits.maxBodyBytes) bytes"))
            return
        }
        if let delegate {
            delegate.requestBodyPart(buffer)
        } else {
            bufferedBody.append(buffer)
            bufferedBytes += buffer.readableBytes
            if bufferedBytes > Self.maxBufferedBeforeDelegate, !pausedUntilDelegate {
                pausedUntilDelegate = true
                pauseReading()
            }
        }
    }

    /// Ends the exchange for something the listener saw (a body too large or too slow): the
    /// forwarder, if one is attached, lets go of its instance and connection as if the client left.
    func failFromListener(_ error: GatehouseError) {
        let sink = delegate
        fail(error)
        sink?.clientDisconnected()
    }

    func receiveEnd() {
        requestComplete = true
        guard !isFinished else { return }
        if let delegate, bufferedBody.isEmpty { delegate.requestBodyEnd() }
    }

    func clientWritabilityChanged() {
        if !isFinished, context.channel.isWritable { delegate?.clientBecameWritable() }
    }

    func clientClosed() {
        end(flag: .downstreamConnectionTermination) { finish() }
    }

    /// Ends the exchange with `flag` (`ending` finishes it), then tells what served it that the
    /// caller is gone, so it lets go of what it holds.
    private func end(flag: ResponseFlags, _ ending: () -> Void) {
        guard !isFinished else { return }
        record.responseFlags.insert(flag)
        let sink = delegate
        let gone = onClientGone
        ending()
        sink?.clientDisconnected()
        gone?()
    }

    private func replayBufferedBody() {
        guard let delegate, !isFinished else { return }
        if pausedUntilDelegate {
            // The forwarder applies its own back-pressure from here on (it may pause again below).
            pausedUntilDelegate = false
            resumeReading()
        }
        let parts = bufferedBody
        bufferedBody = []
        bufferedBytes = 0
        for part in parts { delegate.requestBodyPart(part) }
        if requestComplete { delegate.requestBodyEnd() }
    }

    private func finish() {
        finished = true
        delegate = nil
        onClientGone = nil
        record.duration = .now - record.start
        // Detach before writing the end: the pipelining handler may deliver the next request
        // from inside that write.
        connection.exchangeFinished(self, context: context)
    }

    // MARK: Helpers

    /// A response head that is not valid HTTP/1.1, refused before anything of it was written: the
    /// caller gets Gatehouse's error response instead, without the stages' response header edits
    /// (a function's own headers passed the response parser, so an edit is what made it invalid).
    /// Whoever serves the request is told, as when the caller leaves: a forwarder lets go of its
    /// instance and upstream connection instead of reading a response nobody will receive (and
    /// stops its mirror copies, as when a caller leaves; told twice, it does nothing the second time).
    private func refuseInvalid(_ error: any Error) {
        started = false
        record.responseHeaders = HeaderEdits()
        // Gatehouse's own response refused too: nothing valid is left to send.
        if record.failure?.code == .invalidResponse { return abort() }
        let sink = delegate
        let gone = onClientGone
        fail(GatehouseError(.invalidResponse, detail: "\(error)"))
        sink?.clientDisconnected()
        gone?()
    }

    /// Written to end a response that needs no closing bytes: the flush (and its completion) still happen.
    private static let nothing = ByteBuffer()

    /// Trailers never carry framing or hop-by-hop fields (RFC 9110 §6.5.1), nor a second
    /// `x-request-id`; the route's response header removals apply to them too; the rest pass as sent.
    private func passable(_ trailers: HTTPHeaders) -> HTTPHeaders {
        var forbidden: Set<String> = [
            "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "content-length", "host",
            "x-request-id",
        ]
        for name in record.responseHeaders.remove { forbidden.insert(name.lowercased()) }
        guard trailers.contains(where: { forbidden.contains($0.name.lowercased()) }) else { return trailers }
        var kept = HTTPHeaders()
        for (name, value) in trailers where !forbidden.contains(name.lowercased()) { kept.add(name: name, value: value) }
        return kept
    }

    private static func declaresBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.contains(name: "transfer-encoding") { return true }
        guard let length = head.headers.first(name: "content-length") else { return false }
        return length != "0"
    }

    private static func protocolName(_ version: HTTPVersion) -> String {
        switch (version.major, version.minor) {
        case (1, 1): return "HTTP/1.1"
        case (1, 0): return "HTTP/1.0"
        case (2, 0): return "HTTP/2"
        default: return "HTTP/\(version.major).\(version.minor)"
        }
    }

}
