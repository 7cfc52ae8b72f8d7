import Foundation
import GatehouseStore
import GatehouseTelemetry

extension Gatehouse {
    /// What a start leaves in the audit log, durably, before anything serves: `gatehouse.started`,
    /// `ca.root_created` when this start made the CA, and the `up -f` change; then a checkpoint.
    func recordStart(_ audit: AuditTrail, identity: MeshIdentity, bootstrap: ChangeSummary?, state: StateDirectory) async throws {
        var started = AuditEvent(kind: .started, at: Date())
        started.actor = Self.userName
        started.credential = "local"
        // Which node: on PostgreSQL the chain is the mesh's, written by every node.
        started.detail = "node \(options.nodeName), pid \(getpid()), state directory \(state.url.path)"
        try await audit.record(started)
        if identity.createdRoot {
            let root = identity.authority.root
            var created = AuditEvent(kind: .caRootCreated, at: Date())
            created.action = "create"
            created.actor = Self.userName
            created.credential = "local"
            created.rootFingerprint = try AuditSigner.fingerprint(root)
            created.notAfter = root.notValidAfter
            created.detail = "the mesh CA's root, made on this state directory's first start"
            try await audit.record(created)
        }
        if let bootstrap, let change = AuditEvent.adminChange(
            bootstrap, operation: "apply", origin: .local("\(Self.userName) (gatehouse up -f)"), files: options.configFiles) {
            try await audit.record(change)
        }
        await audit.checkpoint()
    }
}
