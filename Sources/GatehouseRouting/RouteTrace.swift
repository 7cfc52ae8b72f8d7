import GatehouseCore

/// Which VirtualService route a request would take, and why the ones before it did not fit: for
/// `gatehouse explain` and `gatehouse test`, from the same compiled routes the request path uses.
public struct RouteTrace: Codable, Sendable {
    public struct Skipped: Codable, Sendable {
        public var route: String
        /// The first failed condition of each match block.
        public var misses: [String]
    }

    public var skipped: [Skipped] = []
    /// The route taken (its name, or `VIRTUALSERVICE.INDEX`); nil: none fits (404 `NR`).
    public var matched: String?
    /// What it does: `redirect 301 to …`, `direct response 503`, or the destinations with their weights.
    public var outcome: String?
    /// The status the route answers with itself (a redirect or direct response).
    public var status: Int?
    /// The path the function gets after the route's rewrite (policies are checked against it).
    public var rewrittenPath: String?
}

extension RouteTrace {
    /// What the matched route does with the request, for `explain`.
    mutating func describe(_ route: CompiledRoute, verdict: StageVerdict, record: RequestRecord) {
        if case .respond(let reply) = verdict {
            status = reply.status
            let location = reply.headers.first { $0.name == "location" }?.value
            outcome = location.map { "redirect \(reply.status) to \($0)" }
                ?? (reply.details == "cors_preflight" ? "CORS preflight answered (200)"
                    : reply.details == "fault_abort" ? "fault injection aborts with \(reply.status)" : "direct response \(reply.status)")
            return
        }
        rewrittenPath = record.path.beforeRewrite == nil ? nil : record.path.value
        outcome = route.destinations.map { "\($0.label) (\($0.weight)%)" }.joined(separator: ", ")
            + (rewrittenPath.map { ", path rewritten to \($0)" } ?? "")
        if route.destinations.count > 1 { outcome! += "; drawn by weight, explain follows the heaviest" }
        if let fault = route.route.fault {
            if let delay = fault.delay { outcome! += "; delays \(delay.percent)% of requests by \(delay.duration)" }
            if let abort = fault.abort, abort.percent < 100 { outcome! += "; aborts \(abort.percent)% of requests with \(abort.status)" }
        }
        if !route.mirrors.isEmpty { outcome! += "; mirrored to \(route.mirrors.count) destination(s)" }
    }
}
