import GatehouseCore

/// ④ Routing. A host some VirtualService covers (for this kind of traffic) is routed by its HTTP
/// routes: the first whose match fits decides — a function (by weight), a redirect or a direct
/// response — and no fitting route is 404 `NR`. Any other host is routed by the
/// `NAME.NAMESPACE.<domain>` convention; none matches → 404 `NR`.
public struct RouteByHost: RequestStage {
    public let router: HostRouter
    public let table: RouteTable

    /// Without a table, hosts are routed by the convention alone.
    public init(router: HostRouter, table: RouteTable? = nil) {
        self.router = router
        self.table = table ?? RouteTable(services: [], functions: [], targets: router.targets, domain: router.domain)
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        if !table.isEmpty, let routes = table.routes(forHost: HostRouter.hostWithoutPort(record.authority), mesh: record.viaMeshListener) {
            // Istio matches routes on the normalized path (`//admin` and `/x/../admin` are `/admin`),
            // and the function gets that path, so what matched is what it serves.
            let (path, query) = PathNormalization.split(record.path)
            let normalized = PathNormalization.normalize(path)
            if normalized != path { record.upstreamPath = normalized + query }
            var request = RouteRequest(
                target: normalized + query, method: record.method, hostHeader: record.authority, header: { headers.joined($0) })
            request.port = record.destinationPort
            request.scheme = record.overTLS ? "https" : "http"
            request.sourceNamespace = record.peer?.principal.flatMap(RouteRequest.namespace(ofPrincipal:))
            request.mesh = record.viaMeshListener
            guard let route = routes.first(where: { $0.matches(request) }) else {
                record.responseFlags.insert(.noRoute)
                return .reject(GatehouseError(.routeNotFound, detail: "no VirtualService route for \(record.method) \(request.path) at \(record.authority)"))
            }
            return route.apply(to: &record, request: request)
        }
        guard let destination = router.destination(forHost: record.authority) else {
            record.responseFlags.insert(.noRoute)
            return .reject(GatehouseError(.routeNotFound, detail: "no function serves host \"\(record.authority)\""))
        }
        record.destination = destination
        return .proceed
    }
}
