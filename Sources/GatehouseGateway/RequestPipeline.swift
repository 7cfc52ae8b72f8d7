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
    let stages: [any RequestStage]
    let invoker: FunctionInvoker

    init(snapshot: RoutingSnapshot, invoker: FunctionInvoker) {
        self.stages = [
            // ④ Which function the Host header names; none → 404 NR.
            RouteByHost(router: snapshot.router)
        ]
        self.invoker = invoker
    }

    func begin(_ exchange: ClientExchange) {
        for stage in stages {
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
        invoker.invoke(exchange, destination: destination)
    }
}

/// What the request path reads from the applied config: built once, shared by every request.
struct RoutingSnapshot: Sendable {
    let router: HostRouter
}

/// ⑦ Hands each finished exchange's record to telemetry.
struct TelemetryObserver: ExchangeObserver {
    let telemetry: RequestTelemetry

    func exchangeFinished(_ record: RequestRecord) {
        telemetry.requestFinished(record)
    }
}
