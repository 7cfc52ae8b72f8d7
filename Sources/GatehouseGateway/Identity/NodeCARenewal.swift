import Crypto
import Foundation
import GatehouseIdentity
import GatehouseStore
import Logging
import ServiceLifecycle
import SwiftASN1
import X509

/// On a node that joined the mesh's CA: follows the trust bundle the root's node publishes, and
/// renews this node's intermediate — once the root rotated (it was not made by the newest root) or
/// two thirds of its life have passed — proving itself with the current intermediate's key instead
/// of a token (`NodeRenewalCheck` on the answering side). The new files go into `STATE_DIR/ca`,
/// which `MeshIdentity` watches: SVIDs are issued under the new intermediate from then on.
struct NodeCARenewal: Service {
    static let interval: Duration = .seconds(5)

    let store: any NodeJoining
    /// `STATE_DIR/ca`.
    let directory: URL
    let node: String
    let logger: Logger

    /// A renewal asked for and not yet answered.
    struct Pending {
        let request: Int64
        let key: P256.Signing.PrivateKey
    }

    func run() async throws {
        var pending: Pending?
        var failing = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await step(&pending)
                failing = false
            } catch {
                if !failing { logger.warning("cannot follow the mesh's CA", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.interval) }
        }
    }

    private var signerFile: URL { directory.appendingPathComponent("signer-cert.pem") }
    private var keyFile: URL { directory.appendingPathComponent("signer-key.pem") }
    private var bundleFile: URL { directory.appendingPathComponent("root-cert.pem") }

    func step(_ pending: inout Pending?) async throws {
        // Only a node that joined (its intermediate names it); not an operator's own CA.
        guard let chain = try? String(contentsOf: signerFile, encoding: .utf8),
              let current = try? PEMDocument.parseMultiple(pemString: chain).first.map(Certificate.init(pemDocument:)),
              current.subject == (try CertificateAuthority.nodeSubject(String(node.prefix(64))))
        else { return }
        guard let published = try await store.trustBundle() else { return }
        let bundle = try PEMDocument.parseMultiple(pemString: published).map(Certificate.init(pemDocument:))
        guard let newest = bundle.first, bundle.allSatisfy({ $0.subject == $0.issuer }) else {
            throw IdentityError("the published trust bundle holds no roots")
        }
        if let asked = pending {
            switch try await store.joinAnswer(request: asked.request) {
            case .granted(let chainPEM, let bundlePEM):
                pending = nil
                let authority = try CertificateAuthority.replaceJoined(
                    chainPEM: chainPEM, key: Certificate.PrivateKey(asked.key), bundlePEM: bundlePEM, in: directory)
                logger.notice("renewed this node's intermediate CA", metadata: ["until": "\(authority.signer.notValidAfter)"])
            case .refused(let reason):
                pending = nil
                throw IdentityError("the mesh refused to renew this node's intermediate: \(reason)")
            case nil:
                break
            }
            return
        }
        let madeByNewest = current.issuer == newest.subject && newest.publicKey.isValidSignature(current.signature, for: current)
        let life = current.notValidAfter.timeIntervalSince(current.notValidBefore)
        if !madeByNewest || current.notValidAfter.timeIntervalSinceNow < life / 3 {
            let signing = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: keyFile, encoding: .utf8))
            let key = P256.Signing.PrivateKey()
            let publicKey = try Certificate.PublicKey(key.publicKey).serializeAsPEM().pemString
            let proof = try signing.signature(for: Data(JoinRequest.Renewal.message(node: String(node.prefix(64)), publicKeyPEM: publicKey).utf8))
            let request = try await store.requestRenewal(
                node: node, publicKeyPEM: publicKey,
                renewal: JoinRequest.Renewal(chainPEM: chain, proof: proof.derRepresentation.base64EncodedString()))
            pending = Pending(request: request, key: key)
            logger.notice(
                madeByNewest ? "asking the mesh to renew this node's intermediate CA" : "the mesh's root changed: asking for an intermediate under the new one",
                metadata: ["request": "\(request)"])
            return
        }
        // The bundle alone changed (an old root's overlap ended): trust what the root's node trusts.
        if (try? String(contentsOf: bundleFile, encoding: .utf8)) != published {
            _ = try CertificateAuthority.replaceJoined(chainPEM: nil, key: nil, bundlePEM: published, in: directory)
            logger.notice("the mesh's trust bundle changed", metadata: ["roots": "\(bundle.count)"])
        }
    }
}
