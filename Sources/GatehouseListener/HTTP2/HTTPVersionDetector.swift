import NIOCore
import NIOSSL
import NIOTLS

/// Decides which protocol a new client connection speaks, then puts that protocol's handlers in
/// its own place: over TLS from ALPN (`h2`, else HTTP/1.1), in plaintext from the first bytes
/// (HTTP/2 with prior knowledge starts with the connection preface, RFC 9113 §3.3; anything else
/// is HTTP/1.1). HTTP/1.1's `Upgrade: h2c` is not offered (nor is it by Envoy by default).
///
/// Until it decides, it answers the listener's sweeps itself: a connection that stays silent (or
/// never finishes its handshake) past the idle timeout is closed, and so is one when the listener drains.
final class HTTPVersionDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Choice: Equatable { case http1, http2 }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let pipeline: IngressPipeline
    private let peer: PeerBox?
    private let loopIndex: Int
    private let accepted = NIODeadline.now()
    private var buffered: ByteBuffer?
    private var decided = false

    init(pipeline: IngressPipeline, peer: PeerBox?, loopIndex: Int) {
        self.pipeline = pipeline
        self.peer = peer
        self.loopIndex = loopIndex
    }

    /// What the bytes received so far say: nil while they are a strict prefix of the preface.
    static func sniff(_ bytes: ByteBuffer) -> Choice? {
        let count = min(bytes.readableBytes, preface.count)
        guard bytes.readableBytesView.prefix(count).elementsEqual(preface.prefix(count)) else { return .http1 }
        return count == preface.count ? .http2 : nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Read while handing over (before this handler has left): already the new handlers' bytes.
        guard !decided else {
            context.fireChannelRead(data)
            return
        }
        var bytes = unwrapInboundIn(data)
        if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        // Over TLS the handshake's ALPN result decides (see userInboundEventTriggered).
        guard pipeline.tls == nil, let buffered, let choice = Self.sniff(buffered) else { return }
        decide(choice, context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event, !decided {
            // A resumed session skips the certificate check; its leaf must be one verified before.
            if let peer, let tls = pipeline.tls, tls.verifiesClients, peer.identity == nil {
                let leaf = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
                guard let identity = tls.resumedIdentity(leaf) else {
                    context.close(promise: nil)
                    return
                }
                peer.set(identity)
            }
            context.fireUserInboundEventTriggered(event)
            decide(negotiated == "h2" ? .http2 : .http1, context: context)
        } else if let check = event as? IdleCheck {
            let timeout = TimeAmount.nanoseconds(pipeline.limits.idleTimeout.nanosecondsClamped)
            if check.now - accepted >= timeout { context.close(promise: nil) }
        } else if event is DrainConnection {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pipeline.tracker.remove(context.channel)
        context.fireChannelInactive()
    }

    /// Adds the chosen protocol's handlers behind this one, hands them what was read, and leaves.
    private func decide(_ choice: Choice, context: ChannelHandlerContext) {
        decided = true
        do {
            switch choice {
            case .http1: try pipeline.configureHTTP1(context.channel, peer: peer, loopIndex: loopIndex)
            case .http2: try pipeline.configureHTTP2(context.channel, peer: peer, loopIndex: loopIndex)
            }
        } catch {
            context.close(promise: nil)
            return
        }
        // Handed on before leaving: a removed handler's context reaches no one.
        if let bytes = buffered {
            buffered = nil
            context.fireChannelRead(wrapInboundOut(bytes))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
