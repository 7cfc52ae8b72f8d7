import Foundation
import GatehouseCore
import GatehouseStore
import Hummingbird

extension AdminWire {
    /// `POST /api/v1/nodes/join-tokens`: `lifetime` a duration such as `1h` (default; at most 24h).
    public struct JoinTokenRequest: Codable, Sendable {
        public var lifetime: String?
        public init(lifetime: String? = nil) { self.lifetime = lifetime }
    }

    /// The token, shown once: the store keeps only its hash.
    public struct JoinToken: Codable, Sendable {
        public var token: String
        public var expiresAt: Date
    }
}

extension AdminAPI {
    /// A join token for a new node (`gatehouse nodes token create`): single use, short-lived,
    /// answered by a node that holds the mesh's root (docs/store-postgres.md, "Joining the mesh's CA").
    func createJoinToken(_ request: Request, _ context: AdminRequestContext) async -> Response {
        guard let joining = store as? any NodeJoining else {
            return Self.error(.conflict, code: "join_tokens_unavailable",
                "join tokens need a shared PostgreSQL store (--store postgres://…); a node on SQLite has no one to join it")
        }
        let body: AdminWire.JoinTokenRequest
        switch await decode(AdminWire.JoinTokenRequest.self, from: request) {
        case .success(let decoded): body = decoded
        case .failure(let response): return response
        }
        var lifetime = JoinTokens.defaultLifetime
        if let text = body.lifetime {
            guard let parsed = Duration(parsing: text), parsed >= .seconds(1), parsed <= JoinTokens.maxLifetime else {
                return Self.error(.badRequest, code: "bad_request", "lifetime must be a duration from 1s to 24h, such as 1h")
            }
            lifetime = parsed
        }
        let token = JoinTokens.make()
        let origin = origin(request, context)
        do {
            try await joining.createJoinToken(hash: JoinTokens.hash(token), lifetime: lifetime, createdBy: actor(request, context))
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", "the join token could not be stored: \(error)")
        }
        var event = AuditEvent(kind: .caJoinTokenCreated, at: Date())
        event.action = "create"
        origin.describe(&event)
        event.detail = "a join token for one node, valid for \(lifetime.gatehouseDescription)"
        if let refusal = await audited(event) { return refusal }
        return Self.json(.created, AdminWire.JoinToken(token: token, expiresAt: Date().addingTimeInterval(TimeInterval(lifetime.components.seconds))))
    }
}
