import GatehouseTelemetry
import Hummingbird
import HummingbirdTLS
import Logging
import ServiceLifecycle
import NIOConcurrencyHelpers
import NIOCore

/// The admin listener (default `127.0.0.1:15000`): `/metrics`, `/healthz`, `/readyz` open to
/// all, and the operator API under `/api/v1/` behind the admin token. Both listeners answer only
/// requests that name them by one of their own names (`AdminHostCheck`).
///
/// Served by Hummingbird, away from the ingress's hand-tuned path.
enum AdminServer {
    static func make(
        group: any EventLoopGroup, host: String, port: Int, extraHosts: [String] = [], telemetry: RequestTelemetry, readiness: Readiness, api: AdminAPI,
        token: AdminToken, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        let router = Router(context: AdminRequestContext.self)
        // First: a router's middleware wraps only the routes added after it.
        router.add(middleware: AdminHostCheck(hosts: AdminHosts(boundHost: host, configured: extraHosts), logger: logger))
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            let ready = readiness.isReady
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: ready ? "ready\n" : "not ready\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: telemetry.exposition())))
        }
        api.register(on: router, authenticator: AdminAuthenticator(token: token, logger: logger, audit: api.audit))
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
    }
}

extension AdminServer {
    /// The admin API over mutual TLS (`Mesh.spec.listeners.adminMtls`), for the SPIFFE IDs in
    /// `Mesh.spec.identity.adminIdentities`: the handshake refuses any other client certificate, the
    /// token is not asked for, and each change is recorded under the caller's SPIFFE ID.
    static func makeMutual(
        group: any EventLoopGroup, host: String, port: Int, extraHosts: [String] = [], api: AdminAPI, identity: MeshIdentity, admins: [String], logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void
    ) throws -> some Service {
        let router = Router(context: AdminRequestContext.self)
        router.add(middleware: AdminHostCheck(hosts: AdminHosts(boundHost: host, configured: extraHosts), logger: logger))
        router.get("/healthz") { _, _ in "ok\n" }
        let allowed = Set(admins)
        api.register(on: router, authenticator: AdminIdentityAuthenticator(identity: identity, admins: allowed, logger: logger))
        let tls = TLSChannelConfiguration(tlsConfiguration: try identity.mutualServerConfiguration()) { chain in
            guard let peer = await identity.checkClient(chain) else { return .failed }
            guard allowed.contains(peer.uri) else {
                logger.warning("admin handshake refused", metadata: ["audit": "admin", "spiffe_id": "\(peer.uri)", "reason": "not in adminIdentities"])
                return .failed
            }
            return .certificateVerified
        }
        return Application(
            router: router, server: try .tls(.http1(), configuration: tls),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
    }
}

/// Whether `/readyz` says ready: after every listener is bound, until shutdown begins.
final class Readiness: Sendable {
    private let ready = NIOLockedValueBox(false)
    var isReady: Bool { ready.withLockedValue { $0 } }
    func set(_ value: Bool) { ready.withLockedValue { $0 = value } }
}
