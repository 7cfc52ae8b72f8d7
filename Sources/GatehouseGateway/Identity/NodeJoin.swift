import Crypto
import Foundation
import GatehouseIdentity
import GatehouseStore
import Logging
import X509

/// A new node joining the mesh's CA (`gatehouse up --store postgres://… --join-token-file FILE`):
/// it makes a key, asks through the store with the token, and waits for a node holding the root
/// to certify the key as an intermediate CA. The root key never leaves its node; this node signs
/// its own SVIDs under the mesh's root from then on. A node whose state directory has a CA
/// already does not join again.
enum NodeJoin {
    /// How long a joining node waits for an answer before it gives up (and says why).
    static let answerWait: Duration = .seconds(60)

    static func joinIfNeeded(stateDirectory: URL, tokenFile: String, store: any ConfigStore, node: String, logger: Logger) async throws {
        let directory = stateDirectory.appendingPathComponent("ca")
        if FileManager.default.fileExists(atPath: directory.path) {
            logger.info("this node has its CA already (STATE_DIR/ca): the join token is not used")
            return
        }
        guard let joining = store as? any NodeJoining else {
            throw StartupFailure(description: "--join-token-file needs a shared PostgreSQL store (--store postgres://…): nodes join through it")
        }
        guard let text = FileManager.default.contents(atPath: tokenFile).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw StartupFailure(description: "cannot read the join token file \(tokenFile)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.hasPrefix(JoinTokens.prefix) else {
            throw StartupFailure(description: "\(tokenFile) holds no join token (one starts with \(JoinTokens.prefix)); make one with `gatehouse nodes token create`")
        }
        let key = P256.Signing.PrivateKey()
        let publicKey = try Certificate.PublicKey(key.publicKey).serializeAsPEM().pemString
        let request = try await joining.requestJoin(node: node, publicKeyPEM: publicKey, tokenHash: JoinTokens.hash(token))
        logger.notice("asked the mesh to certify this node's CA; waiting for a node that holds the root", metadata: ["request": "\(request)"])
        let deadline = ContinuousClock.now + answerWait
        while ContinuousClock.now < deadline {
            switch try await joining.joinAnswer(request: request) {
            case .granted(let chain, let bundle):
                let authority = try CertificateAuthority.storeJoined(chainPEM: chain, key: Certificate.PrivateKey(key), bundlePEM: bundle, in: directory)
                logger.notice("joined the mesh's CA", metadata: ["intermediate_until": "\(authority.signer.notValidAfter)"])
                return
            case .refused(let reason):
                throw StartupFailure(
                    description: "the mesh refused to certify this node: \(reason); make a new token with `gatehouse nodes token create` on a running node")
            case nil:
                // Polling a database for another process's answer: not ordering anything of ours.
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        try? await joining.withdrawJoin(request: request)
        throw StartupFailure(description: "no node holding the mesh's root answered within \(answerWait): start this node while one runs on the same store")
    }
}
