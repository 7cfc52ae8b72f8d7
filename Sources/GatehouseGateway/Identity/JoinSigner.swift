import Foundation
import GatehouseIdentity
import GatehouseStore
import GatehouseTelemetry
import Logging
import ServiceLifecycle
import X509

/// On a node that holds the mesh's root key: answers nodes asking to join (`NodeJoin`) or to
/// renew (`NodeCARenewal`), once a second, by certifying each one's key as an intermediate CA when
/// its token is valid or its current intermediate vouches for it; and publishes the trust bundle
/// whenever it changes, so a rotation reaches the joined nodes.
struct JoinSigner: Service {
    let store: any NodeJoining
    let identity: MeshIdentity
    let audit: AuditTrail?
    let logger: Logger

    func run() async throws {
        var published: String?
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let authority = identity.authority
            if authority.holdsRoot {
                do {
                    let bundle = try Self.pem(authority.bundle)
                    if bundle != published {
                        try await store.publishTrustBundle(bundle)
                        published = bundle
                    }
                    while let answered = try await store.answerNextJoin(sign: { request in try Self.certify(request, by: authority) }) {
                        logger.notice(
                            answered.granted ? "certified a node of the mesh's CA" : "refused a node's request to join the mesh's CA",
                            metadata: ["node": "\(answered.node)"])
                        if answered.granted, let audit {
                            var event = AuditEvent(kind: .caNodeCertified, at: Date())
                            event.action = "issue"
                            event.rootFingerprint = try? AuditSigner.fingerprint(authority.root)
                            event.detail = "node \(answered.node.prefix(64)): an intermediate CA for \(JoinTokens.intermediateLifetime)"
                            _ = try? await audit.record(event)
                        }
                    }
                } catch {
                    logger.warning("cannot read nodes' join requests", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The node's intermediate over the P-256 key it sent, and the bundle it will trust. A renewal
    /// must be vouched for by the node's current intermediate (`NodeRenewalCheck`).
    static func certify(_ request: JoinRequest, by authority: CertificateAuthority, now: Date = Date()) throws -> (chainPEM: String, bundlePEM: String) {
        let node = String(request.node.prefix(64))
        if let renewal = request.renewal {
            try NodeRenewalCheck.verify(renewal, node: node, publicKeyPEM: request.publicKeyPEM, bundle: authority.bundle, now: now)
        }
        let publicKey = try Certificate.PublicKey(pemEncoded: request.publicKeyPEM)
        let intermediate = try authority.issueIntermediate(publicKey: publicKey, node: node, lifetime: JoinTokens.intermediateLifetime)
        return (try intermediate.serializeAsPEM().pemString + "\n", try pem(authority.bundle))
    }

    static func pem(_ certificates: [Certificate]) throws -> String {
        try certificates.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n"
    }
}
