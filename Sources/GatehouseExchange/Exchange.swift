import GatehouseCore
import NIOCore
import NIOHTTP1

/// The caller's side of one request, whatever carries it: a client connection (`ClientExchange`,
/// in GatehouseListener) or an in-process caller (`LocalExchange`: event delivery, schedules, async
/// calls). The pipeline and the forwarder see only this, so a function is invoked the same way —
/// same stages, pools, retries, metrics and logs — however the request arrived.
///
/// Confined to `eventLoop`: every member must be used there. Exactly one of `sendEnd`, `fail`,
/// `respond` or `abort` ends it; the observer is told once, at that moment.
public protocol Exchange: AnyObject {
    /// The request head, checked (framing, target, canonical `Host`).
    var head: HTTPRequestHead { get }
    var record: RequestRecord { get set }
    var eventLoop: any EventLoop { get }
    /// Index of `eventLoop` in the group, for per-loop upstream connection pools.
    var loopIndex: Int { get }
    /// A WebSocket upgrade request's `Upgrade` value (never for an in-process caller).
    var upgrade: String? { get }
    var isFinished: Bool { get }
    /// Set by the forwarder; body parts that arrived before it was set are replayed to it.
    var delegate: (any ExchangeDelegate)? { get set }
    /// Called once if the caller leaves while a stage's work runs: the pipeline cancels that work.
    var onClientGone: (() -> Void)? { get set }
    /// Whether the caller can take more response bytes now (back-pressure on the upstream).
    var isClientWritable: Bool { get }

    /// Starts the response, through the response phase (the stages' response header edits).
    func sendHead(_ response: HTTPResponseHead)
    func sendBody(_ buffer: ByteBuffer)
    func flush()
    func sendEnd()
    /// Ends the exchange with an error response (rendered once, at the edge), or by aborting it if
    /// a response has already started.
    func fail(_ error: GatehouseError)
    /// Ends the exchange with a response Gatehouse made itself (not a failure).
    func respond(_ reply: GatewayReply)
    /// Ends the exchange without a complete response.
    func abort()
    /// Stops taking request body from the caller until `resumeReading`.
    func pauseReading()
    func resumeReading()
    /// Sends the function's 101 and joins the caller and `upstream` into a byte tunnel.
    func startTunnel(_ response: HTTPResponseHead, to upstream: any Channel, onClose: @escaping () -> Void)
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
