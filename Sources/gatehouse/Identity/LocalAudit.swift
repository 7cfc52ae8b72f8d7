import Foundation
import GatehouseGateway
import GatehouseIdentity
import GatehouseStore
import GatehouseTelemetry

/// CA events a command makes on the state directory (`ca issue`, `ca rotate`, a root made on
/// first use) go straight into `STATE_DIR/audit.db`, durably and under a fresh checkpoint, before
/// the command says it is done. A running Gatehouse may be appending to the same chain: each
/// write is its own transaction on the chain's current head.
enum LocalAudit {
    static func record(_ event: AuditEvent, state: URL, authority: CertificateAuthority) async throws {
        var event = event
        event.actor = event.actor ?? AdminClient.actor
        event.credential = event.credential ?? "local"
        do {
            // The identity the running Gatehouse signs as: the stored Mesh's trust domain and root namespace.
            let mesh = try StateDirectory.storedMesh(in: state)
            let log = try SQLiteAuditLog(path: StateDirectory.auditPath(in: state))
            let signer = AuditSigner(
                directory: StateDirectory.auditDirectory(in: state), trustDomain: mesh.trustDomain, namespace: mesh.rootNamespace) { authority }
            _ = try await log.append([event.bounded()])
            try await log.checkpoint { head in try signer.sign(head, at: Date()) }
        } catch {
            throw CommandFailure("cannot write the audit record (\(event.kind)) to \(StateDirectory.auditPath(in: state)): \(error)")
        }
    }

    /// `ca.root_created`, for a root this command just made.
    static func rootCreated(_ authority: CertificateAuthority, state: URL) async throws {
        var event = AuditEvent(kind: .caRootCreated, at: Date())
        event.action = "create"
        event.rootFingerprint = try AuditSigner.fingerprint(authority.root)
        event.notAfter = authority.root.notValidAfter
        event.detail = "the mesh CA's root, made by gatehouse ca"
        try await record(event, state: state, authority: authority)
    }
}
