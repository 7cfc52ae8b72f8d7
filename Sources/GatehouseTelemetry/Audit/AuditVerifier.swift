import Crypto
import Foundation
import SwiftASN1
import GatehouseIdentity
import GatehouseStore
import X509

/// `gatehouse audit verify`: walks the chain (`AuditLog.walk`), then checks every checkpoint's
/// signature and that its signer is exactly Gatehouse's audit identity,
/// `spiffe://TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse-audit`, under a trusted root, with every
/// certificate of its chain valid when the checkpoint says it was signed. Reports the first
/// problem by record number.
///
/// Trusted roots are the trust bundle given (the CA's current roots and those a rotation still
/// keeps), plus each root a `ca.rotated` record says it replaced — for checkpoints before that
/// record only, and only once a checkpoint after it verified: a root can be vouched for only by a
/// chain that a trusted key signed later, so nobody can bring their own root by appending a record.
public struct AuditVerifier: Sendable {
    public let bundle: [Certificate]
    /// The one SPIFFE ID that signs checkpoints (the mesh's trust domain and root namespace): any
    /// other — a function's, whatever its service account — is refused.
    public let auditIdentity: String

    public init(bundle: [Certificate], auditIdentity: String) {
        self.bundle = bundle
        self.auditIdentity = auditIdentity
    }

    /// `spiffe://TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse-audit`.
    public static func auditIdentity(trustDomain: String, rootNamespace: String) -> String {
        SPIFFEID(trustDomain: trustDomain, namespace: rootNamespace, serviceAccount: AuditSigner.serviceAccount).description
    }

    /// `outside`: a checkpoint kept elsewhere (`gatehouse audit checkpoint`); the chain must still reach it.
    public func verify(_ log: any AuditLog, outside: AuditCheckpoint? = nil) async throws(StoreError) -> AuditVerification {
        let walk = try await log.walk(outside: outside)
        let signatureProblem = await checkpointProblem(walk)
        let problems = [walk.problem, signatureProblem].compactMap { $0 }
        // The lowest record wins; on a tie, what the chain itself shows.
        let problem = problems.min { $0.seq < $1.seq }
        let lastCheckpoint = walk.checkpoints.last?.seq
        return AuditVerification(
            ok: problem == nil, records: walk.records, firstSeq: walk.firstSeq, lastSeq: walk.lastSeq, anchorSeq: walk.anchor?.seq,
            checkpoints: walk.checkpoints.count, lastCheckpointSeq: lastCheckpoint,
            unsigned: max(0, (walk.lastSeq ?? 0) - (walk.signedSeq ?? 0)), problem: problem)
    }

    /// What a signer's chain proves, once checked.
    struct Signer {
        let key: P256.Signing.PublicKey
        let id: String
        let notBefore: Date
        let notAfter: Date
        let rootFingerprint: String
    }

    private func checkpointProblem(_ walk: AuditChainWalk.Result) async -> AuditProblem? {
        var signers: [String: Result<Signer, IdentityError>] = [:]
        for (fingerprint, chain) in walk.signers { signers[fingerprint] = await Self.check(chain) }
        var trusted = Set(bundle.compactMap { try? AuditSigner.fingerprint($0) })
        // Newest first: a rotation's vouch counts once a later checkpoint verified (one at the
        // rotation record itself covers it, so it comes first).
        enum Step { case checkpoint(AuditCheckpoint), rotation(AuditChainWalk.Rotation) }
        let steps = (walk.checkpoints.map { (seq: $0.seq, order: 1, step: Step.checkpoint($0)) }
            + walk.rotations.map { (seq: $0.seq, order: 0, step: Step.rotation($0)) })
            .sorted { ($0.seq, $0.order) > ($1.seq, $1.order) }
        var covered = false
        var first: AuditProblem?
        for (_, _, step) in steps {
            switch step {
            case .rotation(let rotation):
                if covered { trusted.insert(rotation.previousRootFingerprint) }
            case .checkpoint(let checkpoint):
                if let reason = problem(with: checkpoint, signers: signers, trusted: trusted) {
                    first = AuditProblem(kind: .checkpoint, seq: checkpoint.seq, message: "the checkpoint at record \(checkpoint.seq) \(reason)")
                } else {
                    covered = true
                }
            }
        }
        return first
    }

    private func problem(with checkpoint: AuditCheckpoint, signers: [String: Result<Signer, IdentityError>], trusted: Set<String>) -> String? {
        guard let found = signers[checkpoint.signerFingerprint] else { return "names a signing certificate that is not kept (audit_signer)" }
        let signer: Signer
        switch found {
        case .success(let checked): signer = checked
        case .failure(let error): return "has a signing certificate that does not verify: \(error)"
        }
        guard let der = Data(base64Encoded: checkpoint.signature),
              let signature = try? P256.Signing.ECDSASignature(derRepresentation: der),
              signer.key.isValidSignature(signature, for: Data(checkpoint.payload.utf8))
        else { return "does not verify: its signature does not match what it states" }
        guard checkpoint.signer == signer.id, signer.id == auditIdentity else {
            return "is signed by \(signer.id), which is not Gatehouse's audit identity (\(auditIdentity))"
        }
        guard let date = checkpoint.date, date >= signer.notBefore, date <= signer.notAfter else {
            return "was signed at \(checkpoint.at), when its certificate chain was not valid"
        }
        guard trusted.contains(signer.rootFingerprint) else {
            return "is signed under a root that is not in the trust bundle"
        }
        return nil
    }

    /// The chain's leaf checked as an SVID up to the chain's own root (RFC 5280) at a time when
    /// every certificate in it is valid; a checkpoint must be dated within that same window, which
    /// is checking the chain at the checkpoint's own time (only validity periods depend on time).
    /// Whether the root is trusted is decided per checkpoint.
    static func check(_ stored: AuditSignerChain) async -> Result<Signer, IdentityError> {
        let certificates: [Certificate]
        do {
            certificates = try PEMDocument.parseMultiple(pemString: stored.pem).map { try Certificate(pemDocument: $0) }
        } catch {
            return .failure(IdentityError("its chain does not parse: \(error)"))
        }
        guard certificates.count >= 2, let leaf = certificates.first, let root = certificates.last, root.subject == root.issuer else {
            return .failure(IdentityError("its chain does not end in a root"))
        }
        guard let key = P256.Signing.PublicKey(leaf.publicKey), let fingerprint = try? AuditSigner.fingerprint(leaf),
              fingerprint == stored.fingerprint
        else { return .failure(IdentityError("its certificate is not the one named")) }
        let notBefore = certificates.map(\.notValidBefore).max()!, notAfter = certificates.map(\.notValidAfter).min()!
        guard notBefore <= notAfter else { return .failure(IdentityError("its certificates were never valid at the same time")) }
        let middle = notBefore.addingTimeInterval(notAfter.timeIntervalSince(notBefore) / 2)
        switch await SVIDVerifier(trustDomain: nil, bundle: [root]).verify(Array(certificates.dropLast()), at: middle) {
        case .failure(let error): return .failure(error)
        case .success(let id):
            guard let rootFingerprint = try? AuditSigner.fingerprint(root) else { return .failure(IdentityError("its root does not encode")) }
            return .success(Signer(key: key, id: id.description, notBefore: notBefore, notAfter: notAfter, rootFingerprint: rootFingerprint))
        }
    }

    /// A verifier trusting the roots in `bundleFile` (PEM), or else those in `caDirectory`.
    public static func trusting(bundleFile: String?, caDirectory: URL, auditIdentity: String) throws -> AuditVerifier {
        AuditVerifier(
            bundle: try bundleFile.map { try readCertificates(URL(fileURLWithPath: $0)) } ?? trustBundle(caDirectory: caDirectory),
            auditIdentity: auditIdentity)
    }

    /// The roots in a CA directory: `root-cert.pem` and every replaced root still kept in
    /// `previous/`, read only (nothing is removed, unlike loading the CA).
    public static func trustBundle(caDirectory: URL) throws -> [Certificate] {
        var files = [caDirectory.appendingPathComponent("root-cert.pem")]
        let previous = caDirectory.appendingPathComponent("previous")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: previous.path)) ?? [] where name.hasSuffix(".pem") {
            files.append(previous.appendingPathComponent(name))
        }
        return try files.flatMap { try readCertificates($0) }
    }

    public static func readCertificates(_ file: URL) throws -> [Certificate] {
        do {
            let text = try String(contentsOf: file, encoding: .utf8)
            return try PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }
        } catch {
            throw IdentityError("cannot read certificates from \(file.path): \(error)")
        }
    }
}

/// What `gatehouse audit verify` prints and `GET /api/v1/audit/verify` answers.
public struct AuditVerification: Sendable, Codable, Hashable {
    public var ok: Bool
    public var records: Int
    public var firstSeq: Int64?
    public var lastSeq: Int64?
    /// The checkpointed record retention cut the chain after.
    public var anchorSeq: Int64?
    public var checkpoints: Int
    public var lastCheckpointSeq: Int64?
    /// Records after the last checkpoint: chained, but not signed yet.
    public var unsigned: Int64
    public var problem: AuditProblem?

    /// One paragraph for a person.
    public var summary: String {
        if let problem { return "audit log NOT intact: \(problem.message)" }
        guard records > 0 else { return "audit log intact: no records\(anchorSeq.map { " (the chain starts after record \($0))" } ?? "")" }
        var text = "audit log intact: records \(firstSeq ?? 0)–\(lastSeq ?? 0)"
        if let anchorSeq { text += " (earlier ones removed by retention; anchored at checkpoint \(anchorSeq))" }
        text += ", \(checkpoints) checkpoint(s) verified"
        if unsigned > 0 {
            text += "; the last \(unsigned) record(s) are chained but not yet under a checkpoint (removing them would not show)"
        }
        return text
    }
}
