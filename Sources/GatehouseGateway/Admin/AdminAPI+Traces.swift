import Foundation
import GatehouseCore
import GatehouseTracing
import Hummingbird

/// `GET /api/v1/traces/ID` (one trace's spans, by trace id or by a request id in it) and
/// `GET /api/v1/traces?slow=500ms&errors=true&limit=N` (recent requests), from the trace store.
extension AdminAPI {
    func trace(_ id: String) -> Response {
        guard let traces else { return Self.error(.notFound, code: "not_found", "traces are not kept (gatehouse up --kept-traces 0)") }
        let records = traces.requests(of: id)
        guard let first = records.first else {
            return Self.error(
                .notFound, code: "not_found",
                "no kept request has trace or request id \"\(id)\" (the latest \(traces.recentCapacity) requests and \(traces.failedCapacity) failed ones are kept)")
        }
        let builder = SpanBuilder(meshId: meshId)
        let spans = records.flatMap { builder.spans(for: $0) }.sorted { $0.startNanos < $1.startNanos }
        return Self.json(.ok, TraceReport(traceId: first.trace.traceId.description, requests: records.count, spans: spans))
    }

    func traceList(_ request: Request) -> Response {
        guard let traces else { return Self.error(.notFound, code: "not_found", "traces are not kept (gatehouse up --kept-traces 0)") }
        let query = request.uri.queryParameters
        var slowerThan: Duration?
        if let text = query["slow"] {
            guard let duration = Duration(parsing: String(text)) else {
                return Self.error(.badRequest, code: "bad_request", "slow=\(text) is not a duration; write e.g. 500ms or 2s")
            }
            slowerThan = duration
        }
        let failedOnly = query["errors"].map { $0 == "true" || $0 == "1" } ?? false
        let limit = query["limit"].flatMap { Int(String($0)) }.map { min(max($0, 1), 1_000) } ?? 50
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return Self.json(.ok, traces.list(slowerThan: slowerThan, failedOnly: failedOnly, limit: limit).map { record in
            TraceSummary(
                traceId: record.trace.traceId.description, requestId: record.requestId,
                startTime: formatter.string(from: Date(timeIntervalSince1970: Double(record.startWallNanos) / 1e9)),
                method: record.method, host: record.host, path: record.path.logged, status: record.responseCode,
                durationMs: Double((record.duration ?? .zero).nanosecondsClamped) / 1e6,
                function: record.destination?.key.description, listener: record.viaMeshListener ? "mesh" : "ingress",
                failed: RecentTraces.failed(record),
                reason: record.failure?.detail ?? (record.decision?.outcome == .deny ? record.decision?.reason : nil))
        })
    }
}
