import Foundation

/// How a new node gets the mesh's CA without the root key travelling: it asks through the shared
/// store with a join token, and a node that holds the root signs an intermediate CA for the key
/// the new node made (docs/store-postgres.md, "Joining the mesh's CA").
///
/// Tokens are kept as their SHA-256 only, used once, and expire by the database's clock.
public protocol NodeJoining: Sendable {
    /// Keeps a new token's hash until `lifetime` from now.
    func createJoinToken(hash: String, lifetime: Duration, createdBy: String) async throws(StoreError)
    /// A new node's request: its name, the public key (PEM) its intermediate will certify, and the
    /// SHA-256 of the token it was given (the token itself never goes into the database). Returns
    /// the request's id.
    func requestJoin(node: String, publicKeyPEM: String, tokenHash: String) async throws(StoreError) -> Int64
    /// The node gave up waiting: its request is withdrawn, so no late answer spends the token.
    func withdrawJoin(request: Int64) async throws(StoreError)
    /// The answer to a request, once a node holding the root gave one.
    func joinAnswer(request: Int64) async throws(StoreError) -> JoinAnswer?
    /// Answers the oldest unanswered request, if any, with `sign` when its token is valid (the
    /// token is spent in the same transaction): the node's name and whether it was certified; nil
    /// when none waits. Several nodes may call this at once: each request is answered by one.
    /// Requests older than `JoinRequest.maxAge` are refused without spending their token.
    func answerNextJoin(
        sign: @escaping @Sendable (JoinRequest) throws -> (chainPEM: String, bundlePEM: String)
    ) async throws(StoreError) -> (node: String, granted: Bool)?

    /// A joined node asks for a new intermediate over a new key (before its own ends, or after the
    /// root rotated), proving itself with its current one instead of a token: `renewal` is checked
    /// by the node that answers (`sign`), and a request with one spends no token.
    func requestRenewal(node: String, publicKeyPEM: String, renewal: JoinRequest.Renewal) async throws(StoreError) -> Int64

    /// The root holder's trust bundle (PEM), as joined nodes should trust it: published when it
    /// changes (a rotation, an overlap that ended).
    func publishTrustBundle(_ bundlePEM: String) async throws(StoreError)
    func trustBundle() async throws(StoreError) -> String?
}

public struct JoinRequest: Sendable {
    /// Past this a request is refused unanswered (its node waits a minute, then gives up).
    public static let maxAgeSeconds = 90

    public let id: Int64
    public let node: String
    public let publicKeyPEM: String
    /// Set when a joined node renews: no token, its current intermediate vouches instead.
    public let renewal: Renewal?

    public init(id: Int64, node: String, publicKeyPEM: String, renewal: Renewal? = nil) {
        self.id = id
        self.node = node
        self.publicKeyPEM = publicKeyPEM
        self.renewal = renewal
    }

    /// The node's current intermediate (PEM chain) and its signature (base64, DER) over
    /// `message(node:publicKeyPEM:)`, made with that intermediate's key.
    public struct Renewal: Sendable, Hashable {
        public let chainPEM: String
        public let proof: String
        public init(chainPEM: String, proof: String) {
            self.chainPEM = chainPEM
            self.proof = proof
        }

        /// What the proof signs: the request's node and new key, so it vouches for nothing else.
        public static func message(node: String, publicKeyPEM: String) -> String {
            "gatehouse node renewal\n\(node)\n\(publicKeyPEM)"
        }
    }
}

public enum JoinAnswer: Sendable, Equatable {
    /// The intermediate (followed by any chain above it) and the trust bundle.
    case granted(chainPEM: String, bundlePEM: String)
    case refused(String)
}
