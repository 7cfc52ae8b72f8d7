import Hummingbird
import HTTPTypes
import Logging

/// Refuses, with 421 and the API's error shape, a request whose `Host` is not one of the
/// listener's own names (`AdminHosts`), before any route runs — `/metrics` and `/healthz` too.
/// A request without `Host` (HTTP/1.0) is let through: browsers always send one.
struct AdminHostCheck: RouterMiddleware {
    typealias Context = AdminRequestContext

    let hosts: AdminHosts
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authority = request.head.authority ?? request.headers[Self.host] else { return try await next(request, context) }
        let local = context.channel.localAddress
        guard hosts.accepts(authority, port: local?.port, localAddress: local?.ipAddress) else {
            logger.warning(
                "admin request for another host refused",
                metadata: [
                    "audit": "admin", "host": "\(authority)", "path": "\(request.uri.path)",
                    "remote": "\(context.remoteAddress?.description ?? "?")", "reason": "host not among the listener's names (DNS rebinding?)",
                ])
            return AdminAPI.error(
                .misdirectedRequest, code: "misdirected_host",
                "this listener answers only to its own names (localhost, 127.0.0.1, [::1], its address); "
                    + "to reach it by another name, add the name to Mesh spec.listeners.adminHosts")
        }
        return try await next(request, context)
    }

    private static let host = HTTPField.Name("Host")!
}
