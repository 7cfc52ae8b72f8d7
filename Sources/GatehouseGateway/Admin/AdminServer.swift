import GatehouseTelemetry
import Hummingbird
import Logging
import ServiceLifecycle
import NIOConcurrencyHelpers
import NIOCore

/// The admin listener (default `127.0.0.1:15000`): `/metrics`, `/healthz`, `/readyz` open to
/// all, and the operator API under `/api/v1/` behind the admin token.
///
/// Served by Hummingbird, away from the ingress's hand-tuned path.
enum AdminServer {
    static func make(
        host: String, port: Int, telemetry: RequestTelemetry, readiness: Readiness, api: AdminAPI, token: AdminToken,
        logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        let router = Router(context: AdminRequestContext.self)
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
        api.register(on: router, token: token)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

/// Whether `/readyz` says ready: after every listener is bound, until shutdown begins.
final class Readiness: Sendable {
    private let ready = NIOLockedValueBox(false)
    var isReady: Bool { ready.withLockedValue { $0 } }
    func set(_ value: Bool) { ready.withLockedValue { $0 = value } }
}
