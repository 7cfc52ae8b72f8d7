import GatehouseCore

extension CompiledRoute {
    /// Whether any match block fits (a route without one fits every request).
    func matches(_ request: RouteRequest) -> Bool {
        matches.isEmpty || matches.contains { $0.fits(request) }
    }

    /// Why each match block missed; empty when one fits.
    func misses(_ request: RouteRequest) -> [String] {
        if matches.isEmpty { return [] }
        var reasons: [String] = []
        for match in matches {
            guard let reason = match.miss(request) else { return [] }
            reasons.append(reason)
        }
        return reasons
    }

    /// What the route does with the request: a redirect or direct response ends it here; a
    /// destination is chosen by weight, with the rewrite, header operations and timeout recorded for
    /// the forwarder.
    /// `drawing: false` (explain) leaves out what chance decides: faults and mirrors.
    func apply(to record: inout RequestRecord, request: RouteRequest, drawing: Bool = true) -> StageVerdict {
        record.routeName = name
        if let cors = route.cors, let origin = request.header("origin"),
           cors.allows(origin: origin, regex: { pattern, value in corsOriginRegexes[pattern]?.matches(value) ?? false }) {
            if request.method == "OPTIONS", request.header("access-control-request-method") != nil {
                return .respond(GatewayReply(status: 200, headers: preflightHeaders(cors, origin: origin), details: "cors_preflight"))
            }
            record.responseHeaders.setHeader("access-control-allow-origin", origin)
            if cors.allowCredentials { record.responseHeaders.setHeader("access-control-allow-credentials", "true") }
            if !cors.exposeHeaders.isEmpty { record.responseHeaders.setHeader("access-control-expose-headers", cors.exposeHeaders.joined(separator: ",")) }
        }
        if let redirect = route.redirect {
            return .respond(GatewayReply(
                status: redirect.code, headers: [("location", location(redirect, request: request, overTLS: record.overTLS))], details: "redirected"))
        }
        if let direct = route.directResponse {
            return .respond(GatewayReply(
                status: direct.status, headers: direct.body == nil ? [] : [("content-type", "text/plain")], body: direct.body ?? "",
                details: "direct_response"))
        }
        guard let destination = drawing ? pick() : heaviest() else {
            record.responseFlags.insert(.noRoute)
            return .reject(GatehouseError(.routeNotFound, detail: "route \(name) has no destination with weight"))
        }
        record.destination = destination
        if let rewritten = rewrittenTarget(request) { record.path.rewrite(to: rewritten) }
        if let authority = route.rewrite?.authority { record.upstreamHeaders.setHeader("host", authority) }
        apply(route.requestHeaders, to: &record.upstreamHeaders)
        apply(route.responseHeaders, to: &record.responseHeaders)
        record.routeTimeout = route.timeout
        record.retryPolicy = route.retries
        if drawing {
            for (split, percent) in mirrors where Double.random(in: 0..<100) < percent {
                if let mirror = split.pick() { record.mirrors.append(mirror) }
            }
        }
        guard let fault = route.fault else { return .proceed }
        if drawing { return injectFault(fault, record: &record) }
        // Explain: only what is certain.
        guard let abort = fault.abort, abort.percent >= 100 else { return .proceed }
        return Self.abort(abort.status, route: name, record: &record)
    }

    /// Istio's fault injection: a delay (flag `DI`) for `percent` of requests, then an abort with
    /// `httpStatus` (flag `FI`) for its own percentage, each drawn independently.
    private func injectFault(_ fault: VirtualServiceSpec.Fault, record: inout RequestRecord) -> StageVerdict {
        let abort = fault.abort.flatMap { Double.random(in: 0..<100) < $0.percent ? $0.status : nil }
        let routeName = name
        if let delay = fault.delay, Double.random(in: 0..<100) < delay.percent {
            return .suspend {
                try? await Task.sleep(for: delay.duration)
                return { record in
                    record.responseFlags.insert(.delayInjected)
                    return abort.map { Self.abort($0, route: routeName, record: &record) } ?? .proceed
                }
            }
        }
        return abort.map { Self.abort($0, route: routeName, record: &record) } ?? .proceed
    }

    private static func abort(_ status: Int, route: String, record: inout RequestRecord) -> StageVerdict {
        record.responseFlags.insert(.faultInjected)
        return .respond(GatewayReply(status: status, headers: [("content-type", "text/plain")], body: "fault filter abort", details: "fault_abort"))
    }

    /// The heaviest destination's heaviest revision: what explain follows.
    func heaviest() -> FunctionDestination? {
        destinations.filter { $0.weight > 0 || totalWeight == 0 }.max { $0.weight < $1.weight }?.split.heaviest
    }

    /// A destination drawn by weight (the only one, when there is one), then a revision by its split.
    func pick() -> FunctionDestination? {
        if destinations.count == 1 { return destinations[0].weight > 0 || totalWeight == 0 ? destinations[0].split.pick() : nil }
        guard totalWeight > 0 else { return nil }
        var draw = Int.random(in: 0..<totalWeight)
        for (split, weight, _) in destinations {
            if draw < weight { return split.pick() }
            draw -= weight
        }
        return destinations.last?.split.pick()
    }

    /// `rewrite.uri` replaces the prefix a prefix match matched (else the whole path);
    /// `uriRegexRewrite` substitutes in the path. The query is kept.
    func rewrittenTarget(_ request: RouteRequest) -> String? {
        let query = request.rawQuery.map { "?" + $0 } ?? ""
        if let regex = uriRegexRewrite { return Self.absolute(regex.replace(in: request.path)) + query }
        guard let uri = route.rewrite?.uri else { return nil }
        let matchedPrefix = matches.lazy.compactMap { match -> String? in
            guard match.fits(request), case .prefix(let prefix)? = match.spec.uri else { return nil }
            return prefix
        }.first
        if let matchedPrefix { return Self.absolute(uri + request.path.dropFirst(matchedPrefix.count)) + query }
        return Self.absolute(uri) + query
    }

    /// A rewrite may leave a relative path (`rewrite.uri: ""`, a regex to `\1`): the function and
    /// the policies get it made absolute, and normalized, as any other path.
    private static func absolute(_ path: String) -> String {
        PathNormalization.normalize(path.hasPrefix("/") ? path : "/" + path)
    }

    /// What the CORS filter answers an allowed preflight with.
    private func preflightHeaders(_ cors: VirtualServiceSpec.CorsPolicy, origin: String) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("access-control-allow-origin", origin)]
        if !cors.allowMethods.isEmpty { headers.append(("access-control-allow-methods", cors.allowMethods.joined(separator: ","))) }
        if !cors.allowHeaders.isEmpty { headers.append(("access-control-allow-headers", cors.allowHeaders.joined(separator: ","))) }
        if let maxAge = cors.maxAge { headers.append(("access-control-max-age", "\(maxAge.components.seconds)")) }
        if cors.allowCredentials { headers.append(("access-control-allow-credentials", "true")) }
        return headers
    }

    private func location(_ redirect: VirtualServiceSpec.Redirect, request: RouteRequest, overTLS: Bool) -> String {
        let scheme = redirect.scheme ?? (overTLS ? "https" : "http")
        var authority = redirect.authority ?? (redirect.port == nil ? request.hostHeader : request.authority)
        if let port = redirect.port { authority += ":\(port)" }
        let path = redirect.uri ?? request.path
        return "\(scheme)://\(authority)\(path)\(request.rawQuery.map { "?" + $0 } ?? "")"
    }

    private func apply(_ operations: VirtualServiceSpec.HeaderOperations, to edits: inout HeaderEdits) {
        guard !operations.isEmpty else { return }
        edits.remove += operations.remove
        for (name, value) in operations.set.sorted(by: { $0.key < $1.key }) { edits.setHeader(name, value) }
        for (name, value) in operations.add.sorted(by: { $0.key < $1.key }) { edits.add.append((name, value)) }
    }
}
