import GatehouseCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// TLS for a listener: the identity it presents (replaceable, so its certificate rotates without a
/// restart: new connections get the new one, open ones keep theirs) and, for mutual TLS, the check
/// every client chain must pass during the handshake. A chain the check refuses ends the handshake;
/// what it accepts becomes the peer identity of every request on that connection. Without client
/// verification (a `SIMPLE` gateway server) the context asks for no client certificate.
public final class ListenerTLS: Sendable {
    public typealias Check = @Sendable ([NIOSSLCertificate]) async -> PeerIdentity?
    /// A leaf already verified, answered on the event loop without starting a task — and the only
    /// way a resumed TLS session (whose handshake skips the check) gets its identity back.
    public typealias Known = @Sendable (NIOSSLCertificate) -> PeerIdentity?

    /// Longer chains are refused before any path search (an SVID is a leaf and a few intermediates).
    static let maxChainLength = 4
    /// Checks running at once; past it new handshakes are refused instead of queuing work.
    static let maxConcurrentChecks = 256

    private let current: NIOLockedValueBox<NIOSSLContext>
    private let running = ConcurrencyLimit(limit: ListenerTLS.maxConcurrentChecks)
    let check: Check
    let known: Known
    /// Whether every connection must prove a client identity (mutual TLS).
    let verifiesClients: Bool

    public init(context: NIOSSLContext, known: @escaping Known = { _ in nil }, check: @escaping Check) {
        verifiesClients = true
        current = NIOLockedValueBox(context)
        self.known = known
        self.check = check
    }

    /// Server-only TLS: no client certificate is asked for.
    public init(serverOnly context: NIOSSLContext) {
        verifiesClients = false
        current = NIOLockedValueBox(context)
        known = { _ in nil }
        check = { _ in nil }
    }

    public func replace(_ context: NIOSSLContext) {
        current.withLockedValue { $0 = context }
    }

    /// The handler for a new connection; the identity it verifies is put in `peer`.
    func handler(storingPeerIn peer: PeerBox) -> NIOSSLServerHandler {
        let (check, known, running) = (check, known, running)
        return NIOSSLServerHandler(context: current.withLockedValue { $0 }) { certificates, promise in
            guard let leaf = certificates.first, certificates.count <= Self.maxChainLength else {
                promise.succeed(.failed)
                return
            }
            if let identity = known(leaf) {
                peer.set(identity)
                promise.succeed(.certificateVerified)
                return
            }
            guard running.enter() else {
                promise.succeed(.failed)
                return
            }
            Task {
                let identity = await check(certificates)
                running.leave()
                if let identity {
                    peer.set(identity)
                    promise.succeed(.certificateVerified)
                } else {
                    promise.succeed(.failed)
                }
            }
        }
    }

    /// After a handshake that did not run the check (a resumed session): the peer's leaf must be one
    /// verified before, or the connection is refused.
    func resumedIdentity(_ leaf: NIOSSLCertificate?) -> PeerIdentity? {
        leaf.flatMap(known)
    }
}

/// One connection's peer identity, written once during the handshake (off the loop), read by the
/// connection's requests after it; and the server name the client asked for.
final class PeerBox: Sendable {
    private let value = NIOLockedValueBox<PeerIdentity?>(nil)
    private let sni = NIOLockedValueBox<String?>(nil)
    func set(_ identity: PeerIdentity) { value.withLockedValue { $0 = identity } }
    var identity: PeerIdentity? { value.withLockedValue { $0 } }
    /// The SNI of the ClientHello, lowercase (DNS names are case-insensitive, so a policy on
    /// `EVIL.example` cannot be dodged by case); nil when the client sent none.
    var serverName: String? { sni.withLockedValue { $0 } }
    func setServerName(_ name: String) { sni.withLockedValue { $0 = name.lowercased() } }
}

/// The SNI as BoringSSL parsed it — the same ClientHello the handshake used, however it was split
/// into records (a second parser, such as NIO's `SNIHandler`, could be made to see none and let a
/// DENY on `connection.sni` be dodged).
///
/// NIOSSL exposes it only to a context's `sslContextCallback`, which knows no connection. That
/// callback runs synchronously inside the TLS handler's `channelRead`, on the connection's event
/// loop thread, exactly once per handshake; so `ServerNameCapture`, just before the TLS handler,
/// names the connection being read in a thread-local for the length of that call.
extension ListenerTLS {
    static let reading = ThreadSpecificVariable<PeerBox>()

    /// `configuration` offering HTTP/2 by ALPN (`h2`, then `http/1.1`); a client that offers
    /// neither, or no ALPN at all, speaks HTTP/1.1.
    public static func negotiatingHTTP2(_ configuration: TLSConfiguration) -> TLSConfiguration {
        var configuration = configuration
        configuration.applicationProtocols = ["h2", "http/1.1"]
        return configuration
    }

    /// `configuration` with a context callback that records the client's SNI, then does what its
    /// own callback did (a gateway's certificate choice by SNI), if any.
    public static func recordingServerName(_ configuration: TLSConfiguration) -> TLSConfiguration {
        var configuration = configuration
        let original = configuration.sslContextCallback
        configuration.sslContextCallback = { values, promise in
            let peer = reading.currentValue
            // Only contexts of listeners with a `ServerNameCapture` get this callback.
            assert(peer != nil, "a TLS context callback ran outside a ServerNameCapture read")
            if let name = values.serverHostname { peer?.setServerName(name) }
            if let original { original(values, promise) } else { promise.succeed(.noChanges) }
        }
        return configuration
    }
}

/// Names the connection whose bytes the TLS handler is about to read (see `ListenerTLS.reading`).
final class ServerNameCapture: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let peer: PeerBox

    init(peer: PeerBox) {
        self.peer = peer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        ListenerTLS.reading.currentValue = peer
        context.fireChannelRead(data)
        ListenerTLS.reading.currentValue = nil
    }
}
