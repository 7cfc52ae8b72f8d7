import NIOCore
import NIOSSL
import NIOTLS

/// TLS towards a remote function: the context for each new connection (asked per connection, so
/// a renewed client certificate is presented from the next one on) and what the server's
/// certificate must satisfy beyond the chain the context verifies (names, a SPIFFE ID).
public struct UpstreamTLS: Sendable {
    /// nil when the server's leaf is acceptable; otherwise why not (for the log).
    public typealias PeerCheck = @Sendable (NIOSSLCertificate?) -> String?

    /// Sent as SNI and, with full verification, checked against the certificate; nil for an address.
    public let serverHostname: String?
    public let context: @Sendable () throws -> NIOSSLContext
    public let checkPeer: PeerCheck

    public init(serverHostname: String?, context: @escaping @Sendable () throws -> NIOSSLContext, checkPeer: @escaping PeerCheck = { _ in nil }) {
        self.serverHostname = serverHostname
        self.context = context
        self.checkPeer = checkPeer
    }
}

/// A server the TLS settings refused after the handshake.
struct UpstreamPeerRefused: Error, CustomStringConvertible {
    let description: String
}

/// Holds a new TLS connection back from its pool until the handshake completed and the server's
/// certificate passed `UpstreamTLS.checkPeer`, so that a refused or failed handshake is a connect
/// failure (503 `UF`, retried once) rather than a reset after the request was written.
final class TLSHandshakeGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    static let timeout: TimeAmount = .seconds(10)

    let opened: EventLoopPromise<Void>
    private let checkPeer: UpstreamTLS.PeerCheck
    /// The ALPN protocol the server must select (`h2` for HTTP/2 inside TLS); nil: none needed.
    private let requiredProtocol: String?
    private var deadline: Scheduled<Void>?
    private var settled = false

    init(opened: EventLoopPromise<Void>, checkPeer: @escaping UpstreamTLS.PeerCheck, requiredProtocol: String? = nil) {
        self.opened = opened
        self.checkPeer = checkPeer
        self.requiredProtocol = requiredProtocol
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: Self.timeout) { [self] in
            settle(.failure(UpstreamPeerRefused(description: "no TLS handshake within \(Self.timeout)")))
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        settle(.failure(ChannelError.ioOnClosedChannel))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event {
            let leaf = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
            if let requiredProtocol, negotiated != requiredProtocol {
                settle(.failure(UpstreamPeerRefused(description: "the server did not select \(requiredProtocol) by ALPN")))
                context.close(promise: nil)
            } else if let reason = checkPeer(leaf) {
                settle(.failure(UpstreamPeerRefused(description: reason)))
                context.close(promise: nil)
            } else {
                settle(.success(()))
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        settle(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(.failure(ChannelError.ioOnClosedChannel))
        context.fireChannelInactive()
    }

    private func settle(_ result: Result<Void, any Error>) {
        guard !settled else { return }
        settled = true
        deadline?.cancel()
        deadline = nil
        opened.completeWith(result)
    }
}
