import GatehouseExchange
import NIOCore
import NIOHTTP1

/// Writes requests onto a kept-alive HTTP/1.1 connection to an instance as bytes: the head in one
/// buffer, the body framed as the head says, straight to the socket — not as HTTP parts through
/// NIO's header validator, the response decoder's write observer and NIO's encoder, each a
/// dispatch, a type cast and a copy of the head per request.
///
/// What NIO's header validator refused is refused here, as the head is written: a header name that
/// is not a token, a value with a control character other than HTAB (CR, LF and NUL among them);
/// and a request target with a space or a control character, which could split the request line.
/// The caller's own headers passed the listener's parser, which refuses the same; what Gatehouse
/// adds (a claim, a certificate's URI SAN, a route's header values) is where a CR LF could come from.
final class HTTP1RequestWriter {
    /// The response decoder learns each request's method here: a response to HEAD has no body.
    private let decoder: HTTPResponseDecoder
    /// The request being written carries `Transfer-Encoding: chunked` (`ForwardedHeaders` sets
    /// exactly that, or `Content-Length`, or neither for a request without a body).
    private var chunked = false

    init(decoder: HTTPResponseDecoder) {
        self.decoder = decoder
    }

    func writeHead(_ head: HTTPRequestHead, to channel: any Channel) throws(InvalidHead) {
        let buffer = try Self.encode(head, allocator: channel.allocator, chunked: &chunked)
        decoder.write(data: .head(head))
        channel.write(buffer, promise: nil)
    }

    func writeBody(_ buffer: ByteBuffer, to channel: any Channel) {
        guard chunked else { return channel.write(buffer, promise: nil) }
        // An empty chunk would end the body.
        guard buffer.readableBytes > 0 else { return }
        channel.write(Chunks.sizeLine(buffer.readableBytes, allocator: channel.allocator), promise: nil)
        channel.write(buffer, promise: nil)
        channel.write(Chunks.crlf, promise: nil)
    }

    func writeEnd(to channel: any Channel) {
        if chunked { channel.write(Chunks.last, promise: nil) }
        chunked = false
    }

    /// The head as HTTP/1.1 bytes, as NIO's encoder writes it (`Name: value` lines in order).
    static func encode(
        _ head: HTTPRequestHead, allocator: ByteBufferAllocator, chunked: inout Bool
    ) throws(InvalidHead) -> ByteBuffer {
        let method = head.method.rawValue
        guard FieldSyntax.isToken(method) else { throw InvalidHead(part: "method") }
        guard FieldSyntax.isRequestTarget(head.uri) else { throw InvalidHead(part: "request target") }
        // One pass validates and counts; the second writes (nothing is written unless all is valid).
        let fields = try HeadBytes.countFields(head.headers)
        chunked = head.headers.contains { $0.name.utf8.count == 17 && HeaderName.is($0.name, "transfer-encoding") }
        let size = method.utf8.count + head.uri.utf8.count + 12 + fields
        var buffer = allocator.buffer(capacity: size)
        buffer.writeHead(counted: size) { out in
            out.append(method)
            out.append(" ")
            out.append(head.uri)
            out.append(" HTTP/1.1\r\n")
            out.appendFields(head.headers)
        }
        return buffer
    }
}

/// NIO's HTTP/1.1 response decoder, without its write observer: the writer tells it each request's
/// method (`HTTP1RequestWriter`), so requests go to the socket as bytes, past it.
struct UpstreamResponseDecoder: ByteToMessageDecoder {
    typealias InboundOut = HTTPClientResponsePart
    let decoder: HTTPResponseDecoder

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        try decoder.decode(context: context, buffer: &buffer)
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decoder.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    mutating func decoderAdded(context: ChannelHandlerContext) {
        decoder.decoderAdded(context: context)
    }

    /// Bytes after a 101 (a WebSocket's first frames) go on to the tunnel.
    mutating func decoderRemoved(context: ChannelHandlerContext) {
        decoder.decoderRemoved(context: context)
    }
}
