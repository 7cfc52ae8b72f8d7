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

    private let current: NIOLockedValueBox<NIOSSLContext>
    let check: Check

    public init(context: NIOSSLContext, check: @escaping Check) {
        current = NIOLockedValueBox(context)
        self.check = check
    }

    public func replace(_ context: NIOSSLContext) {
        current.withLockedValue { $0 = context }
    }

    /// The handler for a new connection; the identity it verifies is put in `peer`.
    func handler(storingPeerIn peer: PeerBox) -> NIOSSLServerHandler {
        let check = check
        return NIOSSLServerHandler(context: current.withLockedValue { $0 }) { certificates, promise in
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
