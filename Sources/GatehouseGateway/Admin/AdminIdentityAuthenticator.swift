import Hummingbird
import Logging
import NIOSSL

/// On the admin listener over mutual TLS, the caller is who its SVID says, and it must be one of
/// `Mesh.spec.identity.adminIdentities`. The handshake already refused every other certificate;
/// this re-reads the connection's verified leaf for each request (a resumed TLS session skips the
/// handshake's check, and a CA change forgets what was verified), and names the caller in the history.
struct AdminIdentityAuthenticator: RouterMiddleware {
    typealias Context = AdminRequestContext

    let identity: MeshIdentity
    let admins: Set<String>
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let leaf = try? await context.channel.nioSSL_peerCertificate().get()
        guard let peer = leaf.flatMap(identity.remembered), admins.contains(peer.uri) else {
            logger.warning(
                "admin API call refused",
                metadata: [
                    "audit": "admin", "method": "\(request.method)", "path": "\(request.uri.path)",
                    "remote": "\(context.remoteAddress?.description ?? "?")", "reason": "no verified admin SVID on the connection",
                ])
            return AdminAPI.error(.unauthorized, code: "unauthorized", "this listener needs a client SVID named in Mesh.spec.identity.adminIdentities")
        }
        var context = context
        context.adminIdentity = peer.uri
        return try await next(request, context)
    }
}
