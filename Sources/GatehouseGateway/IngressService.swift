import GatehouseListener
import ServiceLifecycle

/// Keeps the ingress listener open until shutdown, then drains it: no new connections, in-flight
/// requests finish (up to `drainGrace`), idle keep-alive connections are closed.
struct IngressService: Service {
    let listener: IngressListener
    let drainGrace: Duration
    let readiness: Readiness

    func run() async throws {
        try? await gracefulShutdown()
        readiness.set(false)
        await listener.shutdown(grace: drainGrace)
    }
}
