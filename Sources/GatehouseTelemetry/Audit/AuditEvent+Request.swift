import Foundation
import GatehouseCore
import GatehouseStore

extension AuditEvent {
    /// The record a finished request leaves in the audit log, if it is one the log keeps: a
    /// refused credential (a JWT — never the token —, or plaintext where mutual TLS is required),
    /// an authorization denial, or an allowed request an AUDIT policy matched. Identities are the
    /// verified ones only: a refused token names no one.
    public static func request(_ record: RequestRecord) -> AuditEvent? {
        if let exchange = record.extensions[TokenExchangeNote.self] { return tokenExchange(exchange, record: record) }
        let decision = record.decision
        let kind: AuditKind
        if decision?.refusedToken != nil || record.failure.map({ Self.peerRefusals.contains($0.code) }) == true {
            kind = .authenticationFailed
        } else if decision?.outcome == .deny {
            kind = .requestDenied
        } else if decision?.audited.isEmpty == false {
            kind = .requestAudited
        } else {
            return nil
        }
        var event = about(record, kind: kind)
        event.requestPrincipal = record.jwt?.principal
        if let actors = record.jwt?.actors, !actors.isEmpty { event.actors = actors }
        event.function = record.destination?.key.description
        event.revision = record.destination?.revision
        event.responseCode = record.responseCode == 0 ? nil : record.responseCode
        event.decision = decision?.outcome.rawValue ?? (kind == .authenticationFailed ? "deny" : nil)
        event.policy = decision?.policy
        event.rule = decision?.rule
        event.action = decision?.action?.rawValue ?? (kind == .requestAudited ? "AUDIT" : nil)
        event.reason = decision?.refusedToken.map { "RequestAuthentication refused the token: \($0)" } ?? decision?.reason ?? record.failure?.code.name
        if let audited = decision?.audited, !audited.isEmpty { event.audited = audited }
        return event.bounded()
    }

    /// A request to the token endpoint: the grant or the refusal, with the whole chain.
    static func tokenExchange(_ note: TokenExchangeNote, record: RequestRecord) -> AuditEvent {
        var event = about(record, kind: note.granted ? .tokenExchanged : .tokenRefused)
        event.requestPrincipal = note.subject
        if !note.actors.isEmpty { event.actors = note.actors }
        event.function = note.audience
        event.responseCode = record.responseCode == 0 ? nil : record.responseCode
        event.decision = note.granted ? "allow" : "deny"
        event.policy = note.policy
        event.reason = note.reason
        return event.bounded()
    }

    /// A record of `kind` about this request: when, who connected, from where, to what.
    private static func about(_ record: RequestRecord, kind: AuditKind) -> AuditEvent {
        var event = AuditEvent(kind: kind, at: Date(timeIntervalSince1970: Double(record.startWallNanos) / 1e9))
        event.sourcePrincipal = record.peer?.uri
        event.sourceAddress = record.downstreamAddress
        event.requestId = record.requestId
        event.traceId = record.traceId
        event.method = record.method
        event.host = record.authority
        event.path = record.path.redacted ?? record.path.value
        return event
    }

    static let peerRefusals: Set<GatehouseError.Code> = [.mtlsRequired, .mtlsNotAccepted]

    /// This event with every text field within `DecisionEntry.maxFieldBytes` (a caller chooses
    /// its path and request id): the writer's queue and the file stay bounded in bytes.
    public func bounded() -> AuditEvent {
        var event = self
        let cut = { (text: String?) in text.map { DecisionEntry.truncated($0) } }
        event.sourcePrincipal = cut(sourcePrincipal)
        event.requestPrincipal = cut(requestPrincipal)
        event.actors = actors.map { Array($0.prefix(ActorChain.maximumDepth)).map { DecisionEntry.truncated($0) } }
        event.sourceAddress = cut(sourceAddress)
        event.requestId = cut(requestId)
        event.traceId = cut(traceId)
        event.method = cut(method)
        event.host = cut(host)
        event.path = cut(path)
        event.reason = cut(reason)
        event.actor = cut(actor)
        event.detail = cut(detail)
        event.audited = audited.map { Array($0.prefix(DecisionEntry.maxListedPolicies)).map { DecisionEntry.truncated($0) } }
        return event
    }

    /// Roughly the bytes this event holds, for the writer's byte bound (cheap: on the event loop).
    var estimatedBytes: Int {
        256 + (actors?.reduce(0) { $0 + $1.utf8.count } ?? 0) + [sourcePrincipal, requestPrincipal, requestId, path, host, reason, function, policy, detail]
            .reduce(0) { $0 + ($1?.utf8.count ?? 0) } + (audited?.reduce(0) { $0 + $1.utf8.count } ?? 0)
    }
}
