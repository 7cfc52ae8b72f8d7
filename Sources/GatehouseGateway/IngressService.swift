import GatehouseListener
import ServiceLifecycle

/// Keeps the ingress listener open until shutdown, closing idle client connections as it goes,
/// then drains it: no new connections, in-flight requests finish (up to `drainGrace`), idle
/// keep-alive connections are closed.
struct IngressService: Service {
    let listener: IngressListener
    let drainGrace: Duration
    let idleSweepInterval: Duration
    let readiness: Readiness

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // The sleep ends early when shutdown begins, so draining starts at once.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: idleSweepInterval) }
            listener.closeIdleConnections()
        }
        readiness.set(false)
        await listener.shutdown(grace: drainGrace)
    }
}
