import GatehouseCore

/// ④ Routing. A host some VirtualService covers (for this kind of traffic) is routed by its HTTP
/// routes: the first whose match fits decides — a function (by weight), a redirect or a direct
/// response — and no fitting route is 404 `NR`. Any other host is routed by the
/// `NAME.NAMESPACE.<domain>` convention; none matches → 404 `NR`.
public struct RouteByHost: RequestStage {
    public let router: HostRouter
    public let table: RouteTable
    public var name: StageName { .route }

    /// Without a table, hosts are routed by the convention alone.
    public init(router: HostRouter, table: RouteTable? = nil) {
        self.router = router
        self.table = table ?? RouteTable(services: [], functions: [], targets: router.targets, domain: router.domain)
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        var unused = RouteTrace()
        return route(&record, headers: headers, explaining: false, trace: &unused)
    }

    /// As `process`, drawing nothing: a weighted choice follows the heaviest destination, a fault
    /// applies only when it is certain (100 %), no mirror is drawn. The details are the routes
    /// tried (`routes`: each skipped one with why), the one `matched`, and VirtualServices that name
    /// the host for the other kind of traffic (`boundElsewhere`).
    public func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation {
        var trace = RouteTrace()
        let verdict = route(&record, headers: headers, explaining: true, trace: &trace)
        var details: [String: DetailValue] = ["traffic": .string(record.viaMeshListener ? "mesh" : "ingress")]
        let elsewhere = table.servicesBoundElsewhere(host: record.host, mesh: record.viaMeshListener)
        var note: String
        if let matched = trace.matched {
            details["routes"] = .encoding(trace)
            note = "route \(matched) → \(trace.outcome ?? "")"
        } else if trace.skipped.isEmpty, let destination = record.destination {
            note = "host \(record.host) names \(destination.key) (revision \(destination.revision)) by the NAME.NAMESPACE.\(router.domain) convention"
        } else {
            if !trace.skipped.isEmpty { details["routes"] = .encoding(trace) }
            note = "no route"
        }
        if !elsewhere.isEmpty {
            details["boundElsewhere"] = .list(elsewhere.map(DetailValue.string))
            let traffic = record.viaMeshListener ? "ingress callers only (its `gateways` name a gateway, not `mesh`)" : "mesh callers only (it has no `gateways`, or only `mesh`)"
            let came = record.viaMeshListener ? "the mesh listener" : "the ingress"
            note += "; VirtualService \(elsewhere.joined(separator: ", ")) covers this host for \(traffic); this request came through \(came)"
        }
        if let destination = record.destination { details["function"] = .string(destination.key.description); details["revision"] = .string(destination.revision) }
        if case .reject(let error) = verdict { return StageExplanation(verdict, note: error.detail + (elsewhere.isEmpty ? "" : " — " + note), details: details) }
        return StageExplanation(verdict, note: note, details: details)
    }

    /// `explaining`: nothing drawn, the routes tried recorded in `trace`.
    private func route(_ record: inout RequestRecord, headers: some RequestHeaders, explaining: Bool, trace: inout RouteTrace) -> StageVerdict {
        if !table.isEmpty, let routes = table.routes(forHost: record.host, mesh: record.viaMeshListener) {
            // Istio matches routes on the normalized path (`/x/../admin` is `/admin`): the record's
            // path was normalized at the front, and the function gets the same one.
            var request = RouteRequest(
                target: record.path.value, method: record.method, hostHeader: record.authority, header: { headers.joined($0) })
            request.port = record.destinationPort
            request.scheme = record.overTLS ? "https" : "http"
            request.sourceNamespace = record.peer?.principal.flatMap(RouteRequest.namespace(ofPrincipal:))
            request.mesh = record.viaMeshListener
            guard explaining else {
                guard let route = routes.first(where: { $0.matches(request) }) else { return noRoute(&record, request) }
                return route.apply(to: &record, request: request)
            }
            for route in routes {
                let misses = route.misses(request)
                guard misses.isEmpty else {
                    trace.skipped.append(.init(route: route.name, misses: misses))
                    continue
                }
                trace.matched = route.name
                let verdict = route.apply(to: &record, request: request, drawing: false)
                trace.describe(route, verdict: verdict, record: record)
                return verdict
            }
            return noRoute(&record, request)
        }
        let split = router.split(forHost: record.host)
        guard let destination = explaining ? split?.heaviest : split?.pick() else {
            record.responseFlags.insert(.noRoute)
            return .reject(GatehouseError(.routeNotFound, detail: "no function serves host \"\(record.host)\""))
        }
        record.destination = destination
        return .proceed
    }

    private func noRoute(_ record: inout RequestRecord, _ request: RouteRequest) -> StageVerdict {
        record.responseFlags.insert(.noRoute)
        return .reject(GatehouseError(.routeNotFound, detail: "no VirtualService route for \(record.method) \(request.path) at \(record.authority)"))
    }
}
