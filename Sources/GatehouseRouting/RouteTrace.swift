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

extension RouteTable {
    /// The routes tried for a request, or nil when no VirtualService covers its host (the
    /// `NAME.NAMESPACE.<domain>` convention applies). `destination` is the heaviest destination of
    /// the route taken: the one `explain` checks policies for.
    public func trace(
        host: String, mesh: Bool, method: String, target: String, headers: [String: String],
        port: Int = 0, sourcePrincipal: String? = nil
    ) -> (trace: RouteTrace, destination: TrafficSplit?)? {
        guard let routes = routes(forHost: HostRouter.hostWithoutPort(host), mesh: mesh) else { return nil }
        let (path, query) = PathNormalization.split(target)
        var request = RouteRequest(
            target: PathNormalization.normalize(path) + query, method: method, hostHeader: host, header: { headers[$0.lowercased()] })
        request.port = port
        request.mesh = mesh
        request.scheme = mesh ? "https" : "http"
        request.sourceNamespace = sourcePrincipal.flatMap(RouteRequest.namespace(ofPrincipal:))
        var trace = RouteTrace()
        for route in routes {
            let misses = route.misses(request)
            guard misses.isEmpty else {
                trace.skipped.append(.init(route: route.name, misses: misses))
                continue
            }
            trace.matched = route.name
            var record = RequestRecord(
                requestId: "", startWallNanos: 0, start: .now, method: method, path: target, httpProtocol: "HTTP/1.1", authority: host)
            if case .reject(let error) = route.apply(to: &record, request: request, drawing: false), let response = error.response {
                trace.status = response.status
                let location = response.headers.first { $0.name == "location" }?.value
                trace.outcome = location.map { "redirect \(response.status) to \($0)" } ?? "direct response \(response.status)"
                return (trace, nil)
            }
            trace.rewrittenPath = record.routedPath
            trace.outcome = route.destinations.map { "\($0.label) (\($0.weight)%)" }.joined(separator: ", ")
                + (record.routedPath.map { ", path rewritten to \($0)" } ?? "")
            return (trace, route.destinations.max { $0.weight < $1.weight }?.split)
        }
        return (trace, nil)
    }
}
