import NIOCore

/// Turns the flushes of one event-loop tick into one: the first `flush` schedules a real one at
/// the end of the tick (after the loop has handled every ready socket), later ones join it.
///
/// For HTTP/2 connections, below swift-nio-http2's handler: each stream's response, finished while
/// reading some *other* socket (its function's), flushes the connection on its own — one `writev`
/// per response. Behind this handler the responses of a tick leave in one. Within the connection's
/// own reads swift-nio-http2 already batches; this covers the rest. A close flushes first, so
/// nothing written before it (a GOAWAY) is lost.
public final class FlushCoalescer: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny
    public typealias OutboundIn = NIOAny
    private var scheduled = false

    public init() {}

    public func flush(context: ChannelHandlerContext) {
        guard !scheduled else { return }
        scheduled = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = bound.value
            handler.flushNow(context: context)
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        flushNow(context: context)
        context.close(mode: mode, promise: promise)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        flushNow(context: context)
    }

    private func flushNow(context: ChannelHandlerContext) {
        guard scheduled else { return }
        scheduled = false
        context.flush()
    }
}
