import NIOCore
import NIOHTTP2

/// One HTTP/2 connection's life as the listener sees it, after the HTTP/2 handler (it writes
/// frames): the idle sweep closes it once it has had no open stream for the idle timeout, and
/// draining sends GOAWAY naming the last stream begun, then closes once the open streams are done
/// (streams the client starts after it are refused by NIO, per RFC 9113 §6.8). GOAWAY comes first
/// either way, so a client knows which of its requests were not taken.
///
/// (NIO's `NIOHTTP2ServerConnectionManagementHandler` does this with timers per connection, but
/// asserts that every closed stream was seen opening, which a CONNECT request breaks in debug builds.)
final class HTTP2ConnectionKeeper: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let tracker: ConnectionTracker
    private let idleTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var openStreams: Set<HTTP2StreamID> = []
    private var lastStream = HTTP2StreamID.rootStream
    private var lastActivity = NIODeadline.now()
    private var draining = false

    init(tracker: ConnectionTracker, idleTimeout: TimeAmount) {
        self.tracker = tracker
        self.idleTimeout = idleTimeout
    }

    /// For `NIOHTTP2Handler`: tells this handler when streams open and close (on the event loop).
    func streamDelegate(eventLoop: any EventLoop) -> any NIOHTTP2StreamDelegate {
        StreamEvents(keeper: NIOLoopBound(self, eventLoop: eventLoop))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let check = event as? IdleCheck {
            if openStreams.isEmpty, check.now - lastActivity >= idleTimeout { goAwayAndClose(context) }
        } else if event is DrainConnection {
            guard !draining else { return }
            draining = true
            if openStreams.isEmpty {
                goAwayAndClose(context)
            } else {
                context.writeAndFlush(wrapOutboundOut(goAway), promise: nil)
            }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        tracker.remove(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The HTTP/2 handler has answered protocol errors itself (RST_STREAM, or GOAWAY and close);
        // what else arrives here (TLS, the socket) leaves nothing to read.
        if !(error is NIOHTTP2Errors.StreamError) { context.close(promise: nil) }
    }

    private var goAway: HTTP2Frame {
        HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStream, errorCode: .noError, opaqueData: nil))
    }

    private func goAwayAndClose(_ context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(goAway)).whenComplete { _ in channel.close(promise: nil) }
    }

    fileprivate func streamCreated(_ id: HTTP2StreamID) {
        openStreams.insert(id)
        lastStream = max(lastStream, id)
        lastActivity = .now()
    }

    fileprivate func streamClosed(_ id: HTTP2StreamID) {
        openStreams.remove(id)
        lastActivity = .now()
        if draining, openStreams.isEmpty, let context { goAwayAndClose(context) }
    }

    private struct StreamEvents: NIOHTTP2StreamDelegate {
        let keeper: NIOLoopBound<HTTP2ConnectionKeeper>
        func streamCreated(_ id: HTTP2StreamID, channel: any Channel) { keeper.value.streamCreated(id) }
        func streamClosed(_ id: HTTP2StreamID, channel: any Channel) { keeper.value.streamClosed(id) }
    }
}
