import Foundation
import GatehouseStore
import GatehouseTelemetry
import Hummingbird
import Logging

/// Every `/api/` call needs `Authorization: Bearer <token>` with the token `up` wrote to
/// `STATE_DIR/admin.token`. A refusal is a 401 that changes nothing, and an audit line in the log
/// (never the token that was offered).
struct AdminAuthenticator: RouterMiddleware {
    typealias Context = AdminRequestContext

    let token: AdminToken
    let logger: Logger
    /// Refusals are authentication failures: queued for the audit log too.
    var audit: AuditTrail?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let offered = request.headers[.authorization].flatMap { value -> Substring? in
            let prefix = "Bearer "
            guard value.count > prefix.count, value.prefix(prefix.count).lowercased() == prefix.lowercased() else { return nil }
            return value.dropFirst(prefix.count)
        }
        guard let offered, token.matches(offered) else {
            audit?.enqueue(.adminRefused(
                method: "\(request.method)", path: request.uri.path, remote: context.remoteAddress,
                reason: offered == nil ? "no bearer token" : "wrong token"))
            logger.warning(
                "admin API call refused",
                metadata: [
                    "audit": "admin", "method": "\(request.method)", "path": "\(request.uri.path)",
                    "remote": "\(context.remoteAddress?.description ?? "?")",
                    "reason": "\(offered == nil ? "no bearer token" : "wrong token")",
                ])
            var response = AdminAPI.error(
                .unauthorized, code: "unauthorized",
                "this call needs `Authorization: Bearer TOKEN` with the token in the state directory's admin.token")
            response.headers[.wwwAuthenticate] = "Bearer realm=\"gatehouse-admin\""
            return response
        }
        return try await next(request, context)
    }
}

/// The admin token: random, 256 bits, compared in constant time.
public struct AdminToken: Sendable {
    let value: String

    public init(_ value: String) {
        self.value = value
    }

    public static func random() -> AdminToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return AdminToken(bytes.map { String(format: "%02x", $0) }.joined())
    }

    func matches(_ offered: some StringProtocol) -> Bool {
        let expected = Array(value.utf8), given = Array(offered.utf8)
        var difference = UInt8(expected.count == given.count ? 0 : 1)
        for index in expected.indices { difference |= expected[index] ^ (index < given.count ? given[index] : 0) }
        return difference == 0
    }
}
