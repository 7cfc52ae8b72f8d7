import GatehouseExchange
import NIOCore
import NIOHTTP1

/// Writes the responses of an HTTP/1.1 client connection as bytes, in place of NIO's header
/// validator and response encoder (two dispatches, casts and a copy of the head per response).
///
/// Framing is NIO's encoder's: no framing headers after a status that has no body (1xx, 204,
/// 304) or a 2xx to CONNECT, `Content-Length` when the response has one, else chunked; a response
/// to HEAD keeps its framing headers. Two things NIO left to its user are done here: no body bytes
/// follow a response that has none (HEAD, 2xx to CONNECT, 1xx, 204, 304 — a 204 fault abort's body
/// would otherwise be read as the next response), and an HTTP/1.0 caller, which cannot read
/// chunks, gets the body as it is, ended by closing the connection (`closeDelimited`). What NIO's
/// validator refused is refused as the head is written: a header name that is not a token, a
/// value with a control character other than HTAB. One response at a time: the connection's
/// exchanges answer in order.
final class HTTP1ResponseWriter {
    private var chunked = false
    private var suppressBody = false

    /// The head answering `request`, and the framing for its body.
    func head(_ response: HTTPResponseHead, answering request: HTTPRequestHead, allocator: ByteBufferAllocator) throws(InvalidHead) -> ByteBuffer {
        var response = response
        let framing = Self.frame(&response, answering: request.method, chunking: request.version.major == 1 && request.version.minor >= 1)
        let buffer = try Self.encode(response, allocator: allocator)
        suppressBody = !Self.hasBody(response.status, answering: request.method)
        chunked = framing && !suppressBody
        return buffer
    }

    /// Whether body bytes may follow the head (RFC 9112 §6.3): not after HEAD, a 2xx to CONNECT
    /// (a tunnel begins), 1xx, 204 or 304.
    static func hasBody(_ status: HTTPResponseStatus, answering method: HTTPMethod) -> Bool {
        method != .HEAD && !(method == .CONNECT && status.code / 100 == 2) && status.mayHaveResponseBody
    }

    /// A body without `Content-Length` that an HTTP/1.0 caller can only read to the connection's end.
    static func closeDelimited(_ response: HTTPResponseHead, answering method: HTTPMethod) -> Bool {
        hasBody(response.status, answering: method) && !response.headers.contains(name: "content-length")
    }

    /// The bytes to write for a body part (none for a response that has no body).
    func body(_ buffer: ByteBuffer, allocator: ByteBufferAllocator, into parts: inout [ByteBuffer]) {
        guard !suppressBody else { return }
        guard chunked else { return parts.append(buffer) }
        // An empty chunk would end the body.
        guard buffer.readableBytes > 0 else { return }
        parts.append(Chunks.sizeLine(buffer.readableBytes, allocator: allocator))
        parts.append(buffer)
        parts.append(Chunks.crlf)
    }

    /// The bytes that end the response: the last chunk and any trailers, when it is chunked.
    func end(trailers: HTTPHeaders?, allocator: ByteBufferAllocator) -> ByteBuffer? {
        defer { chunked = false; suppressBody = false }
        guard chunked else { return nil }
        guard let trailers, !trailers.isEmpty else { return Chunks.last }
        var buffer = allocator.buffer(capacity: 64)
        buffer.writeStaticString("0\r\n")
        for (name, value) in trailers where FieldSyntax.isToken(name) && FieldSyntax.isFieldValue(value) {
            Self.write(name, value, into: &buffer)
        }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// Sets the framing headers as NIO's encoder does; whether the body goes chunked (never to a
    /// caller that cannot read chunks: `chunking` false).
    static func frame(_ response: inout HTTPResponseHead, answering method: HTTPMethod, chunking: Bool = true) -> Bool {
        if (method == .CONNECT && response.status.code / 100 == 2) || !response.status.mayHaveResponseBody {
            response.headers.remove(name: "content-length")
            response.headers.remove(name: "transfer-encoding")
            return false
        }
        if response.headers.contains(name: "content-length") {
            if response.headers.contains(name: "transfer-encoding") { response.headers.remove(name: "transfer-encoding") }
            return false
        }
        guard chunking, response.version.major == 1 && response.version.minor >= 1 else {
            if response.headers.contains(name: "transfer-encoding") { response.headers.remove(name: "transfer-encoding") }
            return false
        }
        response.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
        return true
    }

    /// The status line and headers, as NIO's encoder writes them.
    static func encode(_ response: HTTPResponseHead, allocator: ByteBufferAllocator) throws(InvalidHead) -> ByteBuffer {
        let reason = response.status.reasonPhrase
        guard FieldSyntax.isFieldValue(reason) else { throw InvalidHead(part: "the reason phrase") }
        let code = String(response.status.code)
        // One pass validates and counts; the second writes (nothing is written unless all is valid).
        let fields = try HeadBytes.countFields(response.headers)
        let version: String? = switch (response.version.major, response.version.minor) {
        case (1, 1), (1, 0): nil
        case (let major, let minor): "HTTP/\(major).\(minor) "
        }
        let size = (version?.utf8.count ?? 9) + code.utf8.count + 1 + reason.utf8.count + 2 + fields
        var buffer = allocator.buffer(capacity: size)
        buffer.writeHead(counted: size) { out in
            switch (response.version.major, response.version.minor) {
            case (1, 1): out.append("HTTP/1.1 ")
            case (1, 0): out.append("HTTP/1.0 ")
            default: out.append(version ?? "")
            }
            out.append(code)
            out.append(" ")
            out.append(reason)
            out.append("\r\n")
            out.appendFields(response.headers)
        }
        return buffer
    }

    private static func write(_ name: String, _ value: String, into buffer: inout ByteBuffer) {
        buffer.writeString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }
}
