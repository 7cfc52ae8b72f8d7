import Foundation
import GatehouseCore
import GatehouseStore
import NIOCore

/// The audit records Gatehouse's control side writes: changes, refused admin calls, start.
extension AuditEvent {
    /// Resources applied or deleted: who (the claimed user, the credential that was verified),
    /// from where, and what changed. Nil when nothing changed (a dry run, only unchanged documents).
    static func adminChange(
        _ summary: ChangeSummary, operation: String, origin: AdminOrigin, files: [String] = []
    ) -> AuditEvent? {
        let changed = summary.items.filter { $0.result != "unchanged" }
        guard !summary.dryRun, !changed.isEmpty else { return nil }
        var event = AuditEvent(kind: .adminChanged, at: Date())
        event.action = operation
        origin.describe(&event)
        event.changes = changed.map {
            AuditChange(kind: $0.key.kind, namespace: $0.key.namespace, name: $0.key.name, result: $0.result, generation: $0.generation)
        }
        if !files.isEmpty { event.detail = "files: " + files.joined(separator: ", ") }
        return event.bounded()
    }

    /// This event tied to the admin call that caused it.
    func with(requestId: String) -> AuditEvent {
        var event = self
        event.requestId = requestId
        return event
    }

    /// An admin change about to be made, written before it is (`admin.requested`): if the log
    /// cannot take it, nothing changes. `requestId` ties it to its `admin.changed` / `admin.failed`.
    static func adminRequest(operation: String, origin: AdminOrigin, requestId: String, files: [String] = [], deleting: [ResourceKey] = []) -> AuditEvent {
        var event = AuditEvent(kind: .adminRequested, at: Date())
        event.action = operation
        event.requestId = requestId
        origin.describe(&event)
        if !deleting.isEmpty {
            event.changes = deleting.map { AuditChange(kind: $0.kind, namespace: $0.namespace, name: $0.name, result: "requested", generation: 0) }
        }
        if !files.isEmpty { event.detail = "files: " + files.joined(separator: ", ") }
        return event.bounded()
    }

    /// A requested change that was refused (invalid, a conflict): nothing changed.
    static func adminFailure(operation: String, origin: AdminOrigin, requestId: String, reason: String) -> AuditEvent {
        var event = AuditEvent(kind: .adminFailed, at: Date())
        event.action = operation
        event.requestId = requestId
        origin.describe(&event)
        event.reason = reason
        return event.bounded()
    }

    /// An admin API call refused for a missing or wrong credential (never the credential itself).
    static func adminRefused(method: String, path: String, remote: SocketAddress?, reason: String) -> AuditEvent {
        var event = AuditEvent(kind: .adminRefused, at: Date())
        event.method = method
        event.path = path
        event.sourceAddress = remote.map(AdminOrigin.address)
        event.decision = "deny"
        event.reason = reason
        return event.bounded()
    }
}

/// Who made an admin change and how Gatehouse knows: what goes into `admin.changed`.
struct AdminOrigin: Sendable {
    /// What the client says it runs as (`user@host`); not verified.
    var actor: String?
    /// `admin token`, `admin svid` or `local` (`gatehouse up -f`, SIGHUP).
    var credential: String
    /// The admin SVID's SPIFFE ID, when that was the credential.
    var identity: String?
    var remote: SocketAddress?

    func describe(_ event: inout AuditEvent) {
        event.actor = actor
        event.credential = credential
        event.sourcePrincipal = identity
        event.sourceAddress = remote.map(Self.address)
    }

    /// `IP:PORT` of a caller.
    static func address(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress else { return "\(address)" }
        return address.protocol == .inet6 ? "[\(ip)]:\(address.port ?? 0)" : "\(ip):\(address.port ?? 0)"
    }

    /// A change Gatehouse's own process made (`gatehouse up -f`, SIGHUP).
    static func local(_ actor: String) -> AdminOrigin {
        AdminOrigin(actor: actor, credential: "local", identity: nil, remote: nil)
    }
}
