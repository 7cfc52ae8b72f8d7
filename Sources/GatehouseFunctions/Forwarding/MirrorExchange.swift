import GatehouseCore
import GatehouseExchange
import NIOCore
import NIOHTTP1

/// A VirtualService mirror: a copy of the request sent to another function once the request has
/// fully arrived, and forgotten — its answer is read and dropped, and nothing about it (failure,
/// slowness, status) reaches the caller or the access log. As Envoy's shadows, the copy's `Host`
/// ends in `-shadow` (a remote function is addressed by its own name: the mark goes to
/// `X-Forwarded-Host`).
///
/// The copy is an in-process exchange carried by the same transport as the request itself
/// (`ForwardedExchange`: leases, kept-alive connections, TLS to a remote), with the mirror
/// function's timeout and no retries. Only bodies up to `maxBodyBytes` are mirrored (the copy is
/// held until it is sent). Confined to the request's event loop.
final class MirrorExchange: Exchange {
    static let maxBodyBytes = 64 * 1024

    private var finished = false
    override var isFinished: Bool { finished }
    override var delegate: (any ExchangeDelegate)? {
        didSet { replay() }
    }

    private let pool: any FunctionUpstream
    private var body: [ByteBuffer] = []
    private var bodyBytes = 0
    private var sent = false
    /// The request this copies: its record gets the mirror's span while it is still under way.
    private let original: Exchange
    private let spanId: SpanID

    /// `index`: the mirror's place among the route's mirrors, which names its span.
    init(of original: Exchange, to destination: FunctionDestination, pool: any FunctionUpstream, index: Int = 0) {
        var head = original.head
        let shadow = Self.shadowAuthority(original.head.headers.first(name: "host") ?? original.record.authority)
        head.headers.replaceOrAdd(name: "host", value: shadow)
        self.pool = pool
        self.original = original
        let source = original.record
        // Apart from the numbered children the forwarder derives (1, 2, …): one id per mirror.
        spanId = source.trace.spanId.child(0x6D69_7272_0000 &+ UInt64(index))
        var record = RequestRecord(
            requestId: source.requestId, startWallNanos: source.startWallNanos, start: .now, method: source.method,
            path: source.path.value, httpProtocol: source.httpProtocol, authority: shadow)
        record.downstreamAddress = source.downstreamAddress
        record.peer = source.peer
        record.overTLS = source.overTLS
        record.upstreamHeaders = source.upstreamHeaders
        record.destination = destination
        record.trace = source.trace.mirrored(as: spanId)
        super.init(head: head, record: record, eventLoop: original.eventLoop, loopIndex: original.loopIndex)
    }

    /// Envoy's shadow host: `-shadow` after the host name, before any port (`api:8080` → `api-shadow:8080`).
    static func shadowAuthority(_ authority: String) -> String {
        let host = RequestRecord.withoutPort(authority)
        return host + "-shadow" + authority.dropFirst(host.count)
    }

    // MARK: Fed by the request's own forwarder

    func bodyPart(_ buffer: ByteBuffer) {
        guard !finished, !sent else { return }
        bodyBytes += buffer.readableBytes
        if bodyBytes > Self.maxBodyBytes { return abandon() }
        body.append(buffer)
    }

    /// The request has fully arrived: the copy is sent.
    func end() {
        guard !finished, !sent else { return }
        sent = true
        if !original.isFinished, original.record.trace.isValid {
            original.record.spans.append(RecordedSpan(kind: .mirror, id: spanId, start: .now, detail: record.destination?.serviceHost))
        }
        ForwardedExchange(client: self, pool: pool).start()
    }

    /// The original request went away unfinished: nothing more is sent, and what the copy holds
    /// (a lease, a connection) is let go.
    func abandon() {
        guard !finished else { return }
        let sink = delegate
        finish()
        sink?.clientDisconnected()
    }

    // MARK: Exchange: the answer is read and dropped

    override func sendHead(_ response: HTTPResponseHead) {}
    override func sendBody(_ buffer: ByteBuffer) {}
    override func sendEnd(trailers: HTTPHeaders? = nil) { finish() }
    override func fail(_ error: GatehouseError) { finish() }
    override func respond(_ reply: GatewayReply) { finish() }
    override func abort() { finish() }

    private func replay() {
        guard let delegate, !isFinished else { return }
        let parts = body
        body = []
        for part in parts { delegate.requestBodyPart(part) }
        delegate.requestBodyEnd()
    }

    private func finish() {
        if sent, !finished, !original.isFinished,
           let index = original.record.spans.lastIndex(where: { $0.id == spanId && $0.end == nil }) {
            original.record.spans[index].end = .now
            original.record.spans[index].status = record.responseCode
            original.record.spans[index].failed = record.responseCode == 0 || record.responseCode >= 500
        }
        finished = true
        body = []
        delegate = nil
        onClientGone = nil
    }
}
