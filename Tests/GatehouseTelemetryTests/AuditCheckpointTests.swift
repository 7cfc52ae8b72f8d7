import Foundation
import GatehouseIdentity
import GatehouseStore
import GatehouseTelemetry
import Testing

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

        func signer(_ authority: CertificateAuthority, account: String? = nil) -> AuditSigner {
            AuditSigner(directory: directory.appendingPathComponent("audit"), trustDomain: "cluster.local", namespace: "istio-system") { authority }
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

        let report = try await AuditVerifier(bundle: fixture.authority.bundle).verify(fixture.log)
        #expect(report.ok && report.checkpoints == 2 && report.lastCheckpointSeq == 5 && report.unsigned == 0, "\(report)")
        let keyMode = try FileManager.default.attributesOfItem(atPath: fixture.directory.appendingPathComponent("audit/signer-key.pem").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)

        let stranger = try CertificateAuthority.create(trustDomain: "cluster.local")
        let refused = try await AuditVerifier(bundle: stranger.bundle).verify(fixture.log)
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
        let newBundle = AuditVerifier(bundle: next.bundle)

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
}
