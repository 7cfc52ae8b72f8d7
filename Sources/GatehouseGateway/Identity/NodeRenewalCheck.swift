import Crypto
import Foundation
import GatehouseIdentity
import GatehouseStore
import SwiftASN1
import X509

/// Whether a joined node's current intermediate vouches for its renewal: the intermediate was made
/// for that node by a root the mesh still trusts, is valid now, and its key signed this request
/// (its node and new key). Anyone who can write to the store can ask; only the holder of a node's
/// key gets that node's intermediate renewed.
enum NodeRenewalCheck {
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    static func verify(_ renewal: JoinRequest.Renewal, node: String, publicKeyPEM: String, bundle: [Certificate], now: Date) throws {
        let current: Certificate
        do {
            guard let first = try PEMDocument.parseMultiple(pemString: renewal.chainPEM).first else { throw Refused(description: "no certificate") }
            current = try Certificate(pemDocument: first)
        } catch {
            throw Refused(description: "the renewal's intermediate does not parse")
        }
        guard current.subject == (try CertificateAuthority.nodeSubject(node)), case .isCertificateAuthority(maxPathLength: 0) = try? current.extensions.basicConstraints else {
            throw Refused(description: "the renewal's intermediate is not this node's")
        }
        guard current.notValidBefore <= now, now <= current.notValidAfter else {
            throw Refused(description: "the renewal's intermediate is not valid now (join again with a token)")
        }
        guard bundle.contains(where: { $0.subject == current.issuer && $0.publicKey.isValidSignature(current.signature, for: current) }) else {
            throw Refused(description: "the renewal's intermediate was not made by a root the mesh trusts (join again with a token)")
        }
        guard let key = P256.Signing.PublicKey(current.publicKey), let proof = Data(base64Encoded: renewal.proof),
              let signature = try? P256.Signing.ECDSASignature(derRepresentation: proof),
              key.isValidSignature(signature, for: Data(JoinRequest.Renewal.message(node: node, publicKeyPEM: publicKeyPEM).utf8))
        else {
            throw Refused(description: "the renewal is not signed by its intermediate's key")
        }
    }
}
