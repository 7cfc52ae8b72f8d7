import GatehouseCore

/// A finished request's record as spans: the gateway's SERVER span for the request, with a child
/// for each `RecordedSpan` (queueing, a cold start, a token verification, an authorizer's answer,
/// every attempt at the function, mirrors). Attributes follow OpenTelemetry's HTTP conventions,
/// Istio's proxy tags (`istio.canonical_service`, `istio.mesh_id`, `peer.address`,
/// `response_flags`, …) and Gatehouse's own (`gatehouse.*`).
public struct SpanBuilder: Sendable {
    /// Istio's `istio.mesh_id`: the trust domain, as Istio's default mesh id is.
    public var meshId: String
    /// Custom tags (`Telemetry` `customTags`) already resolved to values for the request.
    public var customTags: [(String, String)] = []

    public init(meshId: String) {
        self.meshId = meshId
    }

    public func spans(for record: RequestRecord) -> [FinishedSpan] {
        guard record.trace.isValid else { return [] }
        let start = record.startWallNanos
        let end = start + (record.duration ?? .zero).nanosecondsClamped
        let traceId = record.trace.traceId.description
        let service = record.destination.map { "\($0.key.name).\($0.key.namespace)" } ?? "gatehouse"
        var server = FinishedSpan(
            traceId: traceId, spanId: record.trace.spanId.description, parentSpanId: record.trace.parentSpanId?.description,
            name: "\(record.method) \(record.host.isEmpty ? "-" : record.host)", kind: .server,
            startNanos: start, endNanos: max(start, end), attributes: serverAttributes(record), failed: Self.failed(record),
            statusMessage: Self.failed(record) ? record.failure?.detail ?? "no response" : nil, service: service,
            traceState: record.trace.traceState)
        if record.trace.isMirror {
            // A mirror's copy is reported as the original's `mirror` span; its own record is not.
            server.kind = .client
        }
        var spans = [server]
        var attempt = 0
        for recorded in record.spans {
            let spanStart = start + (recorded.start - record.start).nanosecondsClamped
            let spanEnd = recorded.end.map { start + ($0 - record.start).nanosecondsClamped } ?? server.endNanos
            var attributes: [FinishedSpan.Attribute] = []
            var name = recorded.kind.rawValue
            var kind = FinishedSpan.Kind.internal
            switch recorded.kind {
            case .upstreamAttempt:
                attempt += 1
                name = "upstream attempt \(attempt)"
                kind = .client
                attributes.append(.init("gatehouse.attempt", .int(Int64(attempt))))
                if let host = recorded.detail, !recorded.failed { attributes.append(.init("server.address", .string(host))) }
                if let destination = record.destination { attributes.append(.init("upstream_cluster", .string(Self.cluster(destination)))) }
            case .mirror:
                name = "mirror \(recorded.detail ?? "")"
                kind = .client
            case .externalAuthorization, .loginProvider:
                kind = .client
            case .queue, .coldStart, .jwtVerification, .assertionSigning, .faultDelay:
                break
            }
            if recorded.status > 0 { attributes.append(.init("http.response.status_code", .int(Int64(recorded.status)))) }
            if let detail = recorded.detail { attributes.append(.init("gatehouse.detail", .string(detail))) }
            spans.append(FinishedSpan(
                traceId: traceId, spanId: recorded.id.description, parentSpanId: server.spanId, name: name, kind: kind,
                startNanos: spanStart, endNanos: max(spanStart, spanEnd), attributes: attributes, failed: recorded.failed,
                statusMessage: recorded.failed ? recorded.detail : nil, service: service))
        }
        return spans
    }

    /// A 5xx, or no response at all, is an error (OpenTelemetry's rule for server spans: a 4xx is
    /// the caller's mistake, and its span says why in `gatehouse.reason`).
    static func failed(_ record: RequestRecord) -> Bool {
        record.responseCode >= 500 || record.responseCode == 0
    }

    /// A target's path and its query (without the `?`), as OpenTelemetry's `url.path` and `url.query`.
    static func split(_ target: String) -> (path: Substring, query: Substring?) {
        guard let mark = target.firstIndex(of: "?") else { return (target[...], nil) }
        return (target[..<mark], target[target.index(after: mark)...])
    }

    /// Envoy's cluster name for the function's service, as Istio's spans show it.
    static func cluster(_ destination: FunctionDestination) -> String {
        "outbound|80|\(destination.revision)|\(destination.serviceHost)"
    }

    private func serverAttributes(_ record: RequestRecord) -> [FinishedSpan.Attribute] {
        var attributes: [FinishedSpan.Attribute] = [
            .init("http.request.method", .string(record.method)),
            .init("url.path", .string(String(Self.split(record.path.logged).path))),
            .init("url.scheme", .string(record.overTLS ? "https" : "http")),
            .init("server.address", .string(record.host)),
            .init("network.protocol.version", .string(record.httpProtocol.replacingPrefix("HTTP/"))),
            .init("guid:x-request-id", .string(record.requestId)),
            .init("component", .string("proxy")),
            .init("istio.mesh_id", .string(meshId)),
            .init("gatehouse.listener", .string(record.viaMeshListener ? "mesh" : "ingress")),
        ]
        // Credentials in the query are redacted (`QueryRedaction`), as in the access log.
        if let query = Self.split(record.path.logged).query { attributes.append(.init("url.query", .string(String(query)))) }
        if record.destinationPort > 0 { attributes.append(.init("server.port", .int(Int64(record.destinationPort)))) }
        if record.responseCode > 0 { attributes.append(.init("http.response.status_code", .int(Int64(record.responseCode)))) }
        if let address = record.downstreamAddress {
            attributes.append(.init("client.address", .string(address)))
            attributes.append(.init("peer.address", .string(address)))
        }
        if let agent = record.userAgent { attributes.append(.init("user_agent.original", .string(agent))) }
        attributes.append(.init("http.request.body.size", .int(Int64(record.bytesReceived))))
        attributes.append(.init("http.response.body.size", .int(Int64(record.bytesSent))))
        attributes.append(.init("response_flags", .string(record.responseFlags.isEmpty ? "-" : record.responseFlags.description)))
        if let destination = record.destination {
            attributes.append(.init("istio.canonical_service", .string(destination.key.name)))
            attributes.append(.init("istio.canonical_revision", .string(destination.revision)))
            attributes.append(.init("istio.namespace", .string(destination.key.namespace)))
            attributes.append(.init("upstream_cluster", .string(Self.cluster(destination))))
            attributes.append(.init("gatehouse.revision", .string(destination.revision)))
        }
        if let route = record.routeName { attributes.append(.init("gatehouse.route", .string(route))) }
        attributes.append(.init("gatehouse.cold_start", .bool(record.coldStart)))
        if record.attempts > 0 { attributes.append(.init("gatehouse.attempts", .int(Int64(record.attempts)))) }
        if let upstream = record.upstreamHost { attributes.append(.init("upstream_host", .string(upstream))) }
        if let peer = record.peer { attributes.append(.init("gatehouse.source.principal", .string(peer.principal ?? peer.uri))) }
        if let jwt = record.jwt {
            attributes.append(.init("gatehouse.request.principal", .string(jwt.principal)))
            // The agents acting for that person, the current one first (RFC 8693 `act`), comma-separated.
            let actors = jwt.actors
            if !actors.isEmpty { attributes.append(.init("gatehouse.request.actors", .string(actors.joined(separator: ",")))) }
        }
        if let decision = record.decision {
            attributes.append(.init("gatehouse.decision", .string(decision.outcome.rawValue)))
            if let policy = decision.policy { attributes.append(.init("gatehouse.policy", .string(policy))) }
        }
        if let reason = record.failure?.detail ?? (record.decision?.outcome == .deny ? record.decision?.reason : nil) {
            attributes.append(.init("gatehouse.reason", .string(reason)))
        }
        if let details = record.replyDetails { attributes.append(.init("gatehouse.reply", .string(details))) }
        for (name, value) in customTags { attributes.append(.init(name, .string(value))) }
        return attributes
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}
