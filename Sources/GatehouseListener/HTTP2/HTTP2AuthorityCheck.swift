import NIOCore
import NIOHPACK
import NIOHTTP2

/// One stream's request head, before NIO turns it into HTTP/1 parts: `:authority` becomes the
/// `Host` every stage sees. NIO's translation prefers a `host` header when both are present, so a
/// client could show the router one name and a TLS peer or a log another; RFC 9113 §8.3.1 calls
/// such a request malformed. Equal names (ignoring case) leave one `Host`; different ones leave two,
/// which `RequestHeadCheck` refuses with 400 as it does on HTTP/1.1.
///
/// NIO's HTTP/2 handler has already refused (with RST_STREAM PROTOCOL_ERROR, RFC 9113 §8.1.1)
/// uppercase names, misplaced or unknown pseudo-headers, connection-specific headers
/// (`connection`, `keep-alive`, `transfer-encoding`, `upgrade`, `proxy-connection`) and `te` other
/// than `trailers`, and the translation refuses a request without `:method`, `:path`, `:scheme`
/// or `:authority` — which includes CONNECT: Gatehouse tunnels nothing over HTTP/2.
final class HTTP2AuthorityCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .headers(var headers) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        Self.reconcile(&headers.headers)
        context.fireChannelRead(wrapInboundOut(.headers(headers)))
        // Only the first HEADERS is a request head; trailers pass as they are.
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    static func reconcile(_ headers: inout HPACKHeaders) {
        let hosts = headers["host"]
        guard !hosts.isEmpty, let authority = headers.first(name: ":authority") else { return }
        if hosts.allSatisfy({ $0.lowercased() == authority.lowercased() }) {
            headers.remove(name: "host")
        } else {
            headers.add(name: "host", value: authority)
        }
    }
}
