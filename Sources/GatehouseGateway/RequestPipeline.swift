import GatehouseAuthorization
import GatehouseConfig
import GatehouseCore
import GatehouseFunctions
import GatehouseListener
import GatehouseRouting
import GatehouseTelemetry

/// The request path, declared once. Every request that passes the listener's limits goes
/// through these steps in this order; the first stage to refuse it ends it.
///
///     listener ─► route ─► authorize ─► invoke ─► respond      (telemetry writes the record at the end)
///
/// Authorization follows routing because a policy applies to the function a request reaches
/// (in Istio, the destination's sidecar enforces it). Authentication and protection (rate limits,
/// breakers) take their places as they arrive; each is one `RequestStage`.
struct RequestPipeline: ExchangeProcessor {
    let live: LiveConfig

    /// The stages for one config snapshot, in the order requests meet them.
    static func stages(for snapshot: ConfigSnapshot) -> [any RequestStage] {
        var stages: [any RequestStage] = [
            // ④ Which function the Host header names; none → 404 NR.
            RouteByHost(router: HostRouter(functions: snapshot.functions, domain: snapshot.mesh.domain))
        ]
        // ③ The AuthorizationPolicies that apply to that function; denied → 403. (Without any
        // policy in the config there is nothing to check, and the stage is left out.)
        if !snapshot.authorizationPolicies.isEmpty {
            stages.append(AuthorizeRequest(
                engine: authorization(for: snapshot), functions: snapshot.functions,
                trustedProxies: snapshot.mesh.numTrustedProxies))
        }
        return stages
    }

    static func authorization(for snapshot: ConfigSnapshot) -> AuthorizationEngine {
        AuthorizationEngine(
            policies: snapshot.authorizationPolicies, functions: snapshot.functions,
            rootNamespace: snapshot.mesh.rootNamespace)
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

/// ⑦ Hands each finished exchange's record to telemetry, and its authorization decision (if a
/// policy applied) to the decision log.
struct TelemetryObserver: ExchangeObserver {
    let telemetry: RequestTelemetry
    let decisions: DecisionRecorder

    func exchangeFinished(_ record: RequestRecord) {
        telemetry.requestFinished(record)
        if record.decision != nil { decisions.append(record) }
    }
}
