import GatehouseCore
import GatehouseExchange
import GatehouseListener
import GatehouseStore
import GatehouseTelemetry
import GatehouseTracing

/// ⑦ What is told about every exchange, declared once, in the order each record reaches them.
/// Every listener (ingress, mesh, the Gateways' HTTPS servers) shares this one list.
///
/// Each runs on the exchange's event loop and only appends: what writes to a file or a database
/// sits behind a `BoundedBatchWriter` that the `ServiceGroup` drains.
extension ExchangeObserverFanOut {
    static func gateway(telemetry: RequestTelemetry, live: LiveConfig, decisions: DecisionRecorder, tracing: Tracing, audit: AuditTrail) -> ExchangeObserverFanOut {
        ExchangeObserverFanOut([
            // First, what stages held for the request's lifetime (a caller's in-flight count under a
            // rate limit) is given back, so no sink delays the next request's admission.
            ReleaseStageHolds(),
            // Istio's request metrics, then the access log line (queued; formatted and written off
            // the loop), as the destination's Telemetry policy says.
            RecordTelemetry(telemetry: telemetry, live: live),
            // The authorization decision, when a policy applied (queued for the decision log's SQLite).
            decisions,
            // The request's spans: kept for `gatehouse trace`, and queued for export when sampled.
            RecordTrace(tracing: tracing),
            // Denials, AUDIT matches and refused credentials, with the verified identities
            // (queued for the audit log's hash chain in audit.db).
            RecordAudit(audit: audit),
        ])
    }
}

/// Runs what stages registered in `RequestRecord.onFinish`, once, when the exchange ends.
struct ReleaseStageHolds: ExchangeObserver {
    func exchangeFinished(_ record: inout RequestRecord) {
        for release in record.onFinish { release() }
        // Ran once; the trace store keeps the record, not what the closures hold.
        record.onFinish = []
    }
}

/// Metrics and the access log (`RequestTelemetry`), from the finished record.
struct RecordTelemetry: ExchangeObserver {
    let telemetry: RequestTelemetry
    let live: LiveConfig

    func exchangeFinished(_ record: inout RequestRecord) {
        // A routed request carries its policy; only one that reached no function reads the config.
        let unrouted = record.destination == nil ? live.active.unroutedTelemetry : .default
        telemetry.requestFinished(record, unrouted: unrouted)
    }
}

/// The trace store and the span exporter (`Tracing`), from the finished record.
struct RecordTrace: ExchangeObserver {
    let tracing: Tracing

    func exchangeFinished(_ record: inout RequestRecord) {
        tracing.requestFinished(record)
    }
}

extension DecisionRecorder: ExchangeObserver {
    func exchangeFinished(_ record: inout RequestRecord) {
        if record.decision != nil { append(record) }
    }
}

/// The audit record of a request that was denied, audited or refused a credential (`AuditEvent.request`).
struct RecordAudit: ExchangeObserver {
    let audit: AuditTrail

    func exchangeFinished(_ record: inout RequestRecord) {
        if let event = AuditEvent.request(record) { audit.enqueue(event) }
    }
}
