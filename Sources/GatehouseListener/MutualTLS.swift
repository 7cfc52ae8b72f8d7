import GatehouseCore
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// Mutual TLS for a listener: the identity it presents (replaceable, so its certificate rotates
/// without a restart: new connections get the new one, open ones keep theirs) and the check every
/// client chain must pass during the handshake. A chain the check refuses ends the handshake; what
/// it accepts becomes the peer identity of every request on that connection.
public final class MutualTLS: Sendable {
    public typealias Check = @Sendable ([NIOSSLCertificate]) async -> PeerIdentity?
    /// A chain already known good, answered on the event loop without starting a task.
    public typealias Known = @Sendable ([NIOSSLCertificate]) -> PeerIdentity?

    private let current: NIOLockedValueBox<NIOSSLContext>
    let check: Check
    let known: Known

    public init(context: NIOSSLContext, known: @escaping Known = { _ in nil }, check: @escaping Check) {
        current = NIOLockedValueBox(context)
        self.known = known
        self.check = check
    }

    public func replace(_ context: NIOSSLContext) {
        current.withLockedValue { $0 = context }
    }

    /// The handler for a new connection; the identity it verifies is put in `peer`.
    func handler(storingPeerIn peer: PeerBox) -> NIOSSLServerHandler {
        let (check, known) = (check, known)
        return NIOSSLServerHandler(context: current.withLockedValue { $0 }) { certificates, promise in
            if let identity = known(certificates) {
                peer.set(identity)
                promise.succeed(.certificateVerified)
                return
            }
            Task {
                if let identity = await check(certificates) {
                    peer.set(identity)
                    promise.succeed(.certificateVerified)
                } else {
                    promise.succeed(.failed)
                }
            }
        }
    }
}

/// One connection's peer identity, written once during the handshake (off the loop), read by the
/// connection's requests after it.
final class PeerBox: Sendable {
    private let value = NIOLockedValueBox<PeerIdentity?>(nil)
    func set(_ identity: PeerIdentity) { value.withLockedValue { $0 = identity } }
    var identity: PeerIdentity? { value.withLockedValue { $0 } }
}
