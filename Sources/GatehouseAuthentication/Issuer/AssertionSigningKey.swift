import Crypto

/// The private key Gatehouse signs assertions (and, later, exchanged tokens) with, and what it
/// publishes of it. Kept in the state directory by the gateway (`AssertionKeyStore`); never logged.
public struct AssertionSigningKey: Sendable {
    public let key: P256.Signing.PrivateKey
    public let published: PublishedKey

    public init(key: P256.Signing.PrivateKey, certificateChain: [String] = []) {
        self.key = key
        published = PublishedKey(publicKey: key.publicKey, certificateChain: certificateChain)
    }

    public var kid: String { published.kid }
}
