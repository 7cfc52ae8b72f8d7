import GatehouseExchange
import NIOCore
import NIOHTTP1

/// Receives one upstream response at a time and passes it to the exchange that sent the request.
protocol UpstreamResponseDelegate: AnyObject {
    func upstreamResponseHead(_ head: HTTPResponseHead)
    func upstreamResponseBody(_ buffer: ByteBuffer)
    func upstreamResponseEnd(trailers: HTTPHeaders?)
    func upstreamReadComplete()
    func upstreamWritable()
    func upstreamClosed()
}

/// The last handler of a kept-alive connection to a function instance.
final class UpstreamConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    weak var delegate: (any UpstreamResponseDelegate)?
    /// Tells the idle pool to forget this connection.
    var onClose: (() -> Void)?
    /// What ended the connection, when an error did (a TLS alert, for example).
    private(set) var failure: (any Error)?
    /// Writes an HTTP/1.1 connection's requests as bytes; nil on an HTTP/2 stream, which takes HTTP parts.
    let writer: HTTP1RequestWriter?

    init(writer: HTTP1RequestWriter? = nil) {
        self.writer = writer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): delegate?.upstreamResponseHead(head)
        case .body(let buffer): delegate?.upstreamResponseBody(buffer)
        case .end(let trailers): delegate?.upstreamResponseEnd(trailers: trailers)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { delegate?.upstreamWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        onClose?()
        onClose = nil
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failure == nil { failure = error }
        context.close(promise: nil)
    }
}

/// A connection to an instance, with the handler that reads its responses: a TCP connection
/// carrying HTTP/1.1, or one HTTP/2 stream of a shared h2c connection (`multiplexed`).
struct UpstreamConnection {
    let channel: any Channel
    let handler: UpstreamConnectionHandler
    /// It served an earlier request (so the function may have closed it meanwhile).
    var reused = false
    /// Requests sent over it, this one included.
    var uses = 1
    /// An HTTP/2 stream: it carries this one exchange and closes with it.
    var multiplexed = false
    /// When it went back to the pool's idle list.
    var idleSince: NIODeadline?

    /// Writes the request head (not flushed): as bytes over HTTP/1.1, as a part on an HTTP/2 stream.
    func write(head: HTTPRequestHead) throws(InvalidHead) {
        guard let writer = handler.writer else { return channel.write(HTTPClientRequestPart.head(head), promise: nil) }
        try writer.writeHead(head, to: channel)
    }

    func write(body: ByteBuffer) {
        guard let writer = handler.writer else { return channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
        writer.writeBody(body, to: channel)
    }

    func writeEnd() {
        guard let writer = handler.writer else { return channel.write(HTTPClientRequestPart.end(nil), promise: nil) }
        writer.writeEnd(to: channel)
    }
}
