import GatehouseCore
import GatehouseExchange
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// The handlers a client connection gets once its protocol is known (see `HTTPVersionDetector`).
/// Either way every request ends up in an `IngressConnectionHandler` that builds one exchange per
/// request, so HTTP/1.1 and HTTP/2 callers go through the same stages.
struct IngressPipeline: Sendable {
    let processor: any ExchangeProcessor
    let observer: any ExchangeObserver
    let renderer: any ErrorRenderer
    let limits: ListenerLimits
    let tracker: ConnectionTracker
    let tls: ListenerTLS?
    let traces: TraceSwitch

    /// HTTP/1.1: NIO's request decoder, then one handler for the connection's requests in turn,
    /// which writes the responses as bytes (`HTTP1ResponseWriter`, in place of NIO's encoder).
    func configureHTTP1(_ channel: any Channel, peer: PeerBox?, loopIndex: Int) throws {
        let pipeline = channel.pipeline.syncOperations
        // Pipelining is handled by IngressConnectionHandler itself (see there why).
        try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try pipeline.addHandler(requestHandler(peer: peer, loopIndex: loopIndex, responseWriter: HTTP1ResponseWriter()))
    }

    /// HTTP/2: each stream is a child channel carrying exactly one request, translated to the
    /// HTTP/1 parts the request handler already knows. The forwarder speaks HTTP/1.1 upstream.
    func configureHTTP2(_ channel: any Channel, peer: PeerBox?, loopIndex: Int) throws {
        let pipeline = channel.pipeline.syncOperations
        // After the HTTP/2 handler: idle connections and draining end with GOAWAY.
        let keeper = HTTP2ConnectionKeeper(tracker: tracker, idleTimeout: .nanoseconds(limits.idleTimeout.nanosecondsClamped))
        let configuration = HTTP2ListenerConfiguration.handler(limits)
        // Its streams run on its event loop: they share one id generator, and one timer for their
        // deadlines (stopped when the connection closes).
        let random = NIOLoopBound(RequestIdentifier.Source(), eventLoop: channel.eventLoop)
        let timer = NIOLoopBound(RequestTimer(concurrentOn: channel.eventLoop), eventLoop: channel.eventLoop)
        channel.closeFuture.assumeIsolated().whenComplete { _ in timer.value.stop() }
        // Below the HTTP/2 handler: the responses of one event-loop tick leave in one write.
        try pipeline.addHandler(FlushCoalescer())
        _ = try pipeline.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: configuration.connection, streamConfiguration: configuration.stream,
            streamDelegate: keeper.streamDelegate(eventLoop: channel.eventLoop)
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                // Streams are tracked too: the idle sweep times out a stalled request body per stream.
                tracker.add(stream)
                let streamPipeline = stream.pipeline.syncOperations
                try streamPipeline.addHandler(HTTP2AuthorityCheck())
                try streamPipeline.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try streamPipeline.addHandler(requestHandler(peer: peer, loopIndex: loopIndex, random: random.value, timer: timer.value))
            }
        }
        try pipeline.addHandler(keeper)
    }

    private func requestHandler(
        peer: PeerBox?, loopIndex: Int, random: RequestIdentifier.Source = RequestIdentifier.Source(), timer: RequestTimer? = nil,
        responseWriter: HTTP1ResponseWriter? = nil
    ) -> IngressConnectionHandler {
        IngressConnectionHandler(
            processor: processor, observer: observer, renderer: renderer, limits: limits,
            loopIndex: loopIndex, tracker: tracker, peer: peer, tls: tls, traces: traces, random: random, streamsTimer: timer,
            responseWriter: responseWriter)
    }
}
