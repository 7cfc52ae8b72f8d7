import Crypto
import Foundation
import GatehouseCore
import GatehouseIdentity
import GatehouseStore
import NIOConcurrencyHelpers
import SwiftASN1
import X509

/// Signs audit checkpoints with a key of its own: a P-256 key and an X.509-SVID for
/// `spiffe://TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse-audit`, issued by the mesh CA.
///
/// The key and certificate are kept in `STATE_DIR/audit/` (`signer-key.pem`, `signer-cert.pem`,
/// mode 0600, in a 0700 folder) and never logged. A new pair is issued when there is none, when
/// it has lived half its seven days, or when the CA's signer changed (a rotation), so every
/// checkpoint is signed under the CA of its time. A function's SVID cannot sign checkpoints:
/// verification accepts only this exact ID, and no Function nor `gatehouse ca issue` may use the
/// `gatehouse-audit` service account (`ReservedServiceAccounts`).
public final class AuditSigner: Sendable {
    public static let serviceAccount = ReservedServiceAccounts.audit
    static let lifetime: Duration = .seconds(7 * 24 * 3600)

    public let id: SPIFFEID
    private let directory: URL
    private let authority: @Sendable () throws -> CertificateAuthority
    private let current = NIOLockedValueBox<Credential?>(nil)

    struct Credential: Sendable {
        let key: P256.Signing.PrivateKey
        let certificate: Certificate
        let chain: AuditSignerChain
    }

    /// - Parameters:
    ///   - directory: where the key and certificate are kept (`STATE_DIR/audit`).
    ///   - authority: the CA now (a running Gatehouse follows rotations).
    public init(directory: URL, trustDomain: String, namespace: String, authority: @escaping @Sendable () throws -> CertificateAuthority) {
        self.directory = directory
        self.authority = authority
        id = SPIFFEID(trustDomain: trustDomain, namespace: namespace, serviceAccount: Self.serviceAccount)
    }

    /// A checkpoint over `head`, or nil when every record is already covered. Runs inside the
    /// log's write transaction: cheap (one ECDSA signature; an issuance every few days).
    public func sign(_ head: AuditHead, at now: Date) throws -> (AuditCheckpoint, AuditSignerChain)? {
        guard head.unsigned > 0 else { return nil }
        let credential = try credential(now: now)
        let at = AuditCoding.timestamp(now)
        let payload = AuditCheckpoint.payload(seq: head.seq, hash: head.hash, previous: head.checkpointSeq, at: at, signer: id.description)
        let signature = try credential.key.signature(for: Data(payload.utf8))
        let checkpoint = AuditCheckpoint(
            seq: head.seq, hash: head.hash, previous: head.checkpointSeq, at: at, signer: id.description,
            signerFingerprint: credential.chain.fingerprint, signature: signature.derRepresentation.base64EncodedString())
        return (checkpoint, credential.chain)
    }

    private func credential(now: Date) throws -> Credential {
        try current.withLockedValue { current in
            let authority = try authority()
            if let credential = current, Self.usable(credential.certificate, under: authority, now: now) { return credential }
            if let stored = try? load(authority: authority), Self.usable(stored.certificate, under: authority, now: now) {
                current = stored
                return stored
            }
            let fresh = try issue(authority: authority, now: now)
            current = fresh
            return fresh
        }
    }

    /// Signed by the CA's current signer, with more than half its life left.
    private static func usable(_ certificate: Certificate, under authority: CertificateAuthority, now: Date) -> Bool {
        let half = TimeInterval(lifetime.components.seconds) / 2
        return certificate.issuer == authority.signer.subject
            && authority.signer.publicKey.isValidSignature(certificate.signature, for: certificate)
            && certificate.notValidAfter.timeIntervalSince(now) > half && certificate.notValidBefore <= now
    }

    private var keyFile: URL { directory.appendingPathComponent("signer-key.pem") }
    private var certificateFile: URL { directory.appendingPathComponent("signer-cert.pem") }

    private func load(authority: CertificateAuthority) throws -> Credential {
        let key = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: keyFile, encoding: .utf8))
        let certificate = try Certificate(pemEncoded: String(contentsOf: certificateFile, encoding: .utf8))
        guard Certificate.PublicKey(key.publicKey) == certificate.publicKey else { throw IdentityError("the audit key does not match its certificate") }
        return try Self.credential(key: key, certificate: certificate, authority: authority, id: id)
    }

    private func issue(authority: CertificateAuthority, now: Date) throws -> Credential {
        let key = P256.Signing.PrivateKey()
        let certificate = try authority.issue(id, publicKey: Certificate.PublicKey(key.publicKey), lifetime: Self.lifetime, now: now)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try CertificateAuthority.writePrivate(key.pemRepresentation + "\n", to: keyFile)
        try CertificateAuthority.writePrivate(try certificate.serializeAsPEM().pemString + "\n", to: certificateFile)
        return try Self.credential(key: key, certificate: certificate, authority: authority, id: id)
    }

    /// The chain kept with checkpoints: the leaf, the CA's intermediates, and the root they chain to.
    private static func credential(key: P256.Signing.PrivateKey, certificate: Certificate, authority: CertificateAuthority, id: SPIFFEID) throws -> Credential {
        let top = authority.chain.last ?? certificate
        let root = authority.bundle.first { $0.subject == top.issuer && $0.publicKey.isValidSignature(top.signature, for: top) } ?? authority.root
        let chain = [certificate] + authority.chain + [root]
        let pem = try chain.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n"
        return Credential(
            key: key, certificate: certificate,
            chain: AuditSignerChain(fingerprint: try fingerprint(certificate), spiffeId: id.description, pem: pem))
    }

    /// SHA-256 of the certificate's DER, hex.
    public static func fingerprint(_ certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return AuditCoding.hex(SHA256.hash(data: serializer.serializedBytes))
    }
}
