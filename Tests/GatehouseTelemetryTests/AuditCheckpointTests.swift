import Crypto
import Foundation
import GatehouseIdentity
import GatehouseStore
import GatehouseTelemetry
import Testing
import X509

@Suite("Audit checkpoints: when they are signed, and what verifies them")
struct AuditCheckpointTests {
    @Test("A checkpoint is due after N unsigned records, or after the interval when any record is unsigned")
    func schedule() {
        let schedule = AuditCheckpointSchedule(everyRecords: 1000, interval: .seconds(60))
        let last = ContinuousClock.now
        #expect(!schedule.isDue(unsigned: 999, last: last, now: last + .seconds(59)))
        #expect(schedule.isDue(unsigned: 1000, last: last, now: last))
        #expect(schedule.isDue(unsigned: 1, last: last, now: last + .seconds(60)))
        #expect(!schedule.isDue(unsigned: 0, last: last, now: last + .seconds(3600)), "nothing to sign")
    }

    /// A state directory's worth: a CA, an audit log and a signer under it.
    struct Fixture {
        let directory: URL
        let log: SQLiteAuditLog
        let authority: CertificateAuthority

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            log = try SQLiteAuditLog(path: directory.appendingPathComponent("audit.db").path)
            authority = try CertificateAuthority.create(trustDomain: "cluster.local")
        }

        /// Gatehouse's audit identity under the default Mesh.
        static let auditIdentity = "spiffe://cluster.local/ns/istio-system/sa/gatehouse-audit"

        func signer(_ authority: CertificateAuthority, namespace: String = "istio-system", folder: String = "audit") -> AuditSigner {
            AuditSigner(directory: directory.appendingPathComponent(folder), trustDomain: "cluster.local", namespace: namespace) { authority }
        }

        func verifier(_ bundle: [Certificate]) -> AuditVerifier {
            AuditVerifier(bundle: bundle, auditIdentity: Self.auditIdentity)
        }

        func append(_ count: Int, kind: AuditKind = .requestDenied, _ edit: (inout AuditEvent) -> Void = { _ in }) async throws {
            for _ in 0..<count {
                var event = AuditEvent(kind: kind, at: Date())
                edit(&event)
                _ = try await log.append([event])
            }
        }

        func checkpoint(_ signer: AuditSigner) async throws {
            try await log.checkpoint { head in try signer.sign(head, at: Date()) }
        }
    }

    @Test("Checkpoints signed under the mesh CA verify against its bundle, and not against another")
    func signedUnderTheCA() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let signer = fixture.signer(fixture.authority)
        try await fixture.append(3)
        try await fixture.checkpoint(signer)
        try await fixture.append(2)
        try await fixture.checkpoint(signer)

        let report = try await fixture.verifier(fixture.authority.bundle).verify(fixture.log)
        // Records 1–3, the checkpoint over 3 and its record 4; 5–6, the checkpoint over 6 and its record 7.
        #expect(report.ok && report.checkpoints == 2 && report.lastCheckpointSeq == 6 && report.unsigned == 0, "\(report)")
        let keyMode = try FileManager.default.attributesOfItem(atPath: fixture.directory.appendingPathComponent("audit/signer-key.pem").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)

        let stranger = try CertificateAuthority.create(trustDomain: "cluster.local")
        let refused = try await fixture.verifier(stranger.bundle).verify(fixture.log)
        #expect(refused.problem?.kind == .checkpoint && refused.problem?.seq == 3, "\(String(describing: refused.problem))")
        #expect(refused.problem?.message.contains("not in the trust bundle") == true)
    }

    @Test("After a rotation, checkpoints under the replaced root verify once the rotation record is itself under a checkpoint")
    func rotation() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        try await fixture.append(2)
        try await fixture.checkpoint(fixture.signer(fixture.authority))
        let next = try CertificateAuthority.create(trustDomain: "cluster.local")
        let newBundle = fixture.verifier(next.bundle)

        // The old root is gone from the bundle and nothing vouches for it yet.
        try await fixture.append(1)
        try await fixture.checkpoint(fixture.signer(next))
        #expect(try await newBundle.verify(fixture.log).problem?.seq == 2)

        try await fixture.append(1, kind: .caRotated) { $0.previousRootFingerprint = try? AuditSigner.fingerprint(fixture.authority.root) }
        #expect(try await newBundle.verify(fixture.log).problem?.seq == 2, "a rotation record no checkpoint covers vouches for nothing")
        try await fixture.checkpoint(fixture.signer(next))
        let report = try await newBundle.verify(fixture.log)
        #expect(report.ok, "\(report)")
    }

    @Test("A key for gatehouse-audit in another namespace — what a function could hold — cannot sign checkpoints over a rewritten log")
    func functionKeyCannotSign() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        try await fixture.append(3)
        try await fixture.checkpoint(fixture.signer(fixture.authority))
        #expect(try await fixture.verifier(fixture.authority.bundle).verify(fixture.log).ok)

        // Re-signed with spiffe://cluster.local/ns/default/sa/gatehouse-audit, under the same CA.
        let impostor = fixture.signer(fixture.authority, namespace: "default", folder: "impostor")
        try await fixture.append(2)
        try await fixture.checkpoint(impostor)
        let report = try await fixture.verifier(fixture.authority.bundle).verify(fixture.log)
        #expect(report.problem?.kind == .checkpoint && report.problem?.seq == 6, "\(report)")
        #expect(report.problem?.message.contains("not Gatehouse's audit identity (\(Fixture.auditIdentity))") == true, "\(report)")
    }

    @Test("A checkpoint dated when a certificate of its chain had expired does not verify, though the leaf was still valid")
    func chainCheckedAtTheCheckpointsTime() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let authority = try CertificateAuthority.create(trustDomain: "cluster.local")
        // A leaf that outlives its root by a day (the CA never issues one; a hand-made chain can).
        let rootEnd = authority.root.notValidAfter
        let leafKey = P256.Signing.PrivateKey()
        let id = SPIFFEID(trustDomain: "cluster.local", namespace: "istio-system", serviceAccount: "gatehouse-audit")
        let stretched = try authority.sign(
            publicKey: Certificate.PublicKey(leafKey.publicKey), notValidBefore: rootEnd.addingTimeInterval(-6 * 86400),
            notValidAfter: rootEnd.addingTimeInterval(86400),
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                Critical(SubjectAlternativeNames([.uniformResourceIdentifier(id.description)]))
            })
        let fingerprint = try AuditSigner.fingerprint(stretched)
        let pem = try [stretched, authority.root].map { try $0.serializeAsPEM().pemString }.joined(separator: "\n")
        try await fixture.append(1)
        try await fixture.log.checkpoint { head in
            let at = AuditCoding.timestamp(rootEnd.addingTimeInterval(12 * 3600))
            let payload = AuditCheckpoint.payload(seq: head.seq, hash: head.hash, previous: 0, at: at, signer: Fixture.auditIdentity)
            let signature = try leafKey.signature(for: Data(payload.utf8)).derRepresentation.base64EncodedString()
            return (AuditCheckpoint(seq: head.seq, hash: head.hash, previous: 0, at: at, signer: Fixture.auditIdentity, signerFingerprint: fingerprint, signature: signature),
                    AuditSignerChain(fingerprint: fingerprint, spiffeId: Fixture.auditIdentity, pem: pem))
        }
        let report = try await fixture.verifier(authority.bundle).verify(fixture.log)
        #expect(report.problem?.kind == .checkpoint && report.problem?.message.contains("chain was not valid") == true, "\(report)")
    }
}
