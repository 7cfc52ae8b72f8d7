import GatehouseConfig
import GatehouseCore
import GatehouseFunctions
import GatehouseListener
import GatehouseRouting
import GatehouseTelemetry

/// The request path, declared once. Every request that passes the listener's limits goes
/// through these steps in this order; the first stage to refuse it ends it.
///
///     listener ─► route ─► invoke ─► respond      (telemetry writes the record at the end)
///
/// Authentication, authorization and protection (rate limits, breakers) take their places
/// before `route` and `invoke` as they arrive; each is one `RequestStage`.
struct RequestPipeline: ExchangeProcessor {
    let live: LiveConfig

    /// The stages for one config snapshot, in the order requests meet them.
    static func stages(for snapshot: ConfigSnapshot) -> [any RequestStage] {
        [
            // ④ Which function the Host header names; none → 404 NR.
            RouteByHost(router: HostRouter(functions: snapshot.functions, domain: snapshot.mesh.domain))
        ]
    }

    func begin(_ exchange: ClientExchange) {
        // Read once: an apply during this request does not change what it runs on.
        let config = live.active
        for stage in config.stages {
            if case .reject(let error) = stage.process(&exchange.record, headers: exchange.head.headers) {
                exchange.fail(error)
                return
            }
        }
        guard let destination = exchange.record.destination else {
            exchange.fail(GatehouseError(.routeNotFound, detail: "no stage chose a destination"))
            return
        }
        // ⑥ The activator: a warm instance now, or a queued wait while one starts.
        config.invoker.invoke(exchange, destination: destination)
    }
}

/// ⑦ Hands each finished exchange's record to telemetry.
struct TelemetryObserver: ExchangeObserver {
    let telemetry: RequestTelemetry

    func exchangeFinished(_ record: RequestRecord) {
        telemetry.requestFinished(record)
    }
}
