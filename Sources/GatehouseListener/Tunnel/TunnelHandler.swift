import NIOCore
import NIOHTTP1

/// One end of a byte tunnel between two channels on the same event loop: what one reads, the
/// other writes (an upgraded connection — a WebSocket — once its 101 has gone out).
///
/// Back-pressure both ways: a side reads only while its partner can write (the `read` is held
/// until the partner becomes writable), so neither side ever buffers more than one read. Either
/// side closing, failing, or going idle (an `IdleStateHandler` before it) closes both.
public final class TunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private var partner: TunnelHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var flushScheduled = false
    private var closed = false
    /// Bytes read from this side's peer (and passed to the other side).
    public private(set) var bytesRead = 0
    /// Called once, when this side's channel has closed (the tunnel is over).
    public var onClose: (() -> Void)?

    private init() {}

    /// Two ends, each to be added to one of the two channels.
    public static func pair() -> (TunnelHandler, TunnelHandler) {
        let (one, two) = (TunnelHandler(), TunnelHandler())
        one.partner = two
        two.partner = one
        return (one, two)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if !context.channel.isActive { closeBoth() }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil  // the two ends hold each other until the channels let them go
        onClose = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        bytesRead += buffer.readableBytes
        partner?.write(buffer)
        // Bytes a departing HTTP decoder passes on arrive with no read-complete after them: flush
        // on the next loop turn unless a read-complete does it first.
        if !flushScheduled {
            flushScheduled = true
            context.eventLoop.assumeIsolated().execute { [self] in
                if flushScheduled { flushPartner() }
            }
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushPartner()
    }

    private func flushPartner() {
        flushScheduled = false
        partner?.context?.flush()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closeBoth()
        let done = onClose
        onClose = nil
        done?()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerWritable() }
        context.fireChannelWritabilityChanged()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { closeBoth() } else { context.fireUserInboundEventTriggered(event) }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closeBoth()
    }

    public func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }

    // MARK: Called by the partner

    private func write(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func partnerWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    /// The other side ended: so does this one (after what it was given is written).
    private func closeBoth() {
        guard !closed else { return }
        closed = true
        if let context {
            context.flush()
            context.close(promise: nil)
        }
        partner?.closeBoth()
    }
}
