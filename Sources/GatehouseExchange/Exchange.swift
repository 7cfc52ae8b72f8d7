import GatehouseCore
import NIOCore
import NIOHTTP1

/// The caller's side of one request, whatever carries it: a client connection (`ClientExchange`,
/// in GatehouseListener), an in-process caller (`LocalExchange`: event delivery, schedules, async
/// calls) or a mirror's copy (`MirrorExchange`). The pipeline and the forwarder see only this, so
/// a function is invoked the same way — same stages, pools, retries, metrics and logs — however
/// the request arrived.
///
/// A base class rather than a protocol, for the hot path: the record, the head and the loop are
/// final stored properties, read and written in place from any module (through a protocol, every
/// read of `record` copied the whole record); what differs per caller is overridden.
///
/// Confined to `eventLoop`: every member must be used there. Exactly one of `sendEnd`, `fail`,
/// `respond` or `abort` ends it; the observer is told once, at that moment.
open class Exchange {
    /// The request head, checked (framing, target, canonical `Host`).
    public final let head: HTTPRequestHead
    public final var record: RequestRecord
    public final let eventLoop: any EventLoop
    /// Index of `eventLoop` in the group, for per-loop upstream connection pools.
    public final let loopIndex: Int
    /// A WebSocket upgrade request's `Upgrade` value (never for an in-process caller).
    public final let upgrade: String?
    /// The name of the HTTP/1.1 response decoder on a connection to a function: it leaves the
    /// pipeline when the connection becomes a tunnel (see `startTunnel`).
    public static let upstreamDecoderName = "gatehouse.upstream-response-decoder"
    /// Keeps the exchange's timeout: a client connection's, shared by its requests in turn (see
    /// `RequestTimer`); the exchange's own for other callers.
    public final let timer: RequestTimer

    public init(
        head: HTTPRequestHead, record: consuming RequestRecord, eventLoop: any EventLoop, loopIndex: Int, upgrade: String? = nil,
        timer: RequestTimer? = nil
    ) {
        self.head = head
        // Moved, not copied: a copy retains (and its end releases) every string the record holds.
        self.record = consume record
        self.eventLoop = eventLoop
        self.loopIndex = loopIndex
        self.upgrade = upgrade
        self.timer = timer ?? RequestTimer(loop: eventLoop)
    }

    /// Set by the forwarder; body parts that arrived before it was set are replayed to it
    /// (subclasses observe it).
    open var delegate: (any ExchangeDelegate)?
    /// Called once if the caller leaves while a stage's work runs: the pipeline cancels that work.
    open var onClientGone: (() -> Void)?
    open var isFinished: Bool { false }
    /// Whether a response head went out (its status can no longer change).
    open var responseStarted: Bool { false }
    /// Whether the caller can take more response bytes now (back-pressure on the upstream).
    open var isClientWritable: Bool { true }

    /// Starts the response, through the response phase (the stages' response header edits).
    open func sendHead(_ response: HTTPResponseHead) { fatalError("\(Self.self) must override sendHead") }
    open func sendBody(_ buffer: ByteBuffer) { fatalError("\(Self.self) must override sendBody") }
    open func flush() {}
    /// Ends the response, with the function's trailers when it sent some (gRPC's status).
    open func sendEnd(trailers: HTTPHeaders? = nil) { fatalError("\(Self.self) must override sendEnd") }
    /// Ends the exchange with an error response (rendered once, at the edge), or by aborting it if
    /// a response has already started.
    open func fail(_ error: GatehouseError) { fatalError("\(Self.self) must override fail") }
    /// Ends the exchange with a response Gatehouse made itself (not a failure): the access log
    /// shows its `details`, and it goes through the response phase like the function's.
    open func respond(_ reply: GatewayReply) {
        guard !isFinished, !responseStarted else { return }
        record.replyDetails = reply.details
        var headers = HTTPHeaders()
        for (name, value) in reply.headers { headers.add(name: name, value: value) }
        sendWhole(status: HTTPResponseStatus(statusCode: reply.status), headers: headers, body: reply.body)
    }

    /// A response whose body is all here (a gateway reply, a rendered error): framed by its
    /// length, sent, and ended.
    open func sendWhole(status: HTTPResponseStatus, headers: HTTPHeaders, body: String) {
        var headers = headers
        headers.replaceOrAdd(name: "content-length", value: String(body.utf8.count))
        sendHead(HTTPResponseHead(version: .http1_1, status: status, headers: headers))
        sendBody(ByteBuffer(string: body))
        sendEnd()
    }
    /// Ends the exchange without a complete response.
    open func abort() { fatalError("\(Self.self) must override abort") }
    /// Stops taking request body from the caller until `resumeReading`.
    open func pauseReading() {}
    open func resumeReading() {}
    /// Sends the function's 101 and joins the caller and `upstream` into a byte tunnel. Only a
    /// connection can: others close `upstream` and abort.
    open func startTunnel(_ response: HTTPResponseHead, to upstream: any Channel, onClose: @escaping () -> Void) {
        upstream.close(promise: nil)
        abort()
    }
}

/// Receives the request body as it arrives, and what happens to the caller while it is served.
/// Set on the exchange by whoever forwards it; called on the exchange's event loop.
public protocol ExchangeDelegate: AnyObject {
    func requestBodyPart(_ buffer: ByteBuffer)
    func requestBodyEnd()
    /// The caller left before the exchange ended.
    func clientDisconnected()
    /// The caller can take more bytes again (after `isClientWritable` was false).
    func clientBecameWritable()
}
