import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseFunctions
import GatehouseRouting
import GatehouseStore
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// `/api/v1/` reads: stored resources, function status, logs, history and decisions.
extension AdminAPI {
    func resources(_ request: Request) async -> Response {
        let query = request.uri.queryParameters
        var kind: ResourceKinds.Kind?
        if let word = query["kind"] {
            guard let resolved = ResourceKinds.resolve(String(word)) else { return Self.unknownKind(String(word)) }
            kind = resolved
        }
        let stored = await controller.stored.filter { resource in
            let key = resource.document.key
            return (kind == nil || (key.group, key.kind) == (kind!.group, kind!.kind))
                && query["namespace"].map { key.namespace == $0 } ?? true
                && query["name"].map { key.name == $0 } ?? true
        }
        return Self.json(.ok, stored.map { resource in
            AdminWire.Resource(
                apiVersion: resource.document.apiVersion, kind: resource.document.key.kind,
                namespace: resource.document.key.namespace, name: resource.document.key.name,
                generation: resource.generation, appliedAt: resource.appliedAt, appliedBy: resource.appliedBy,
                origin: resource.document.origin, file: resource.document.file, lineOffset: resource.document.lineOffset,
                yaml: resource.document.text)
        })
    }

    func functions(_ request: Request) async -> Response {
        let query = request.uri.queryParameters
        let snapshot = await controller.snapshot
        let stored = await controller.stored
        let statuses = snapshot.functions.filter { spec in
            query["namespace"].map { spec.namespace == $0 } ?? true && query["name"].map { spec.name == $0 } ?? true
        }.map { spec in
            let resource = stored.first { $0.document.key == ResourceKey(group: "gatehouse.dev", kind: "Function", namespace: spec.namespace, name: spec.name) }
            return status(of: spec, snapshot: snapshot, resource: resource)
        }
        return Self.json(.ok, statuses)
    }

    func status(of spec: FunctionSpec, snapshot: ConfigSnapshot, resource: StoredResource?) -> AdminWire.FunctionStatus {
        let domain = snapshot.mesh.domain
        // Every serving revision's instances; the queue and cold start across them.
        let pools = runtime.pools(of: spec.key).map { ($0.spec.revision, $0.status) }
        let instances = pools.flatMap { revision, status in
            status.instances.map {
                AdminWire.FunctionStatus.Instance(id: $0.id, port: $0.port, ready: $0.ready, inflight: $0.inflight, revision: revision)
            }
        }
        let lastColdStart = pools.compactMap(\.1.lastColdStart).max { $0.at < $1.at }
        let state = spec.remote != nil ? "Remote" : instances.isEmpty ? "Idle" : instances.contains(where: \.ready) ? "Ready" : "Starting"
        return AdminWire.FunctionStatus(
            namespace: spec.namespace, name: spec.name, url: HostRouter.url(for: spec, domain: domain, port: ingressPort),
            revision: spec.revision, generation: spec.generation, state: state, instances: instances,
            queueDepth: pools.reduce(0) { $0 + $1.1.queueDepth },
            lastColdStart: lastColdStart.map { .init(at: $0.at, milliseconds: Double($0.duration.nanosecondsClamped) / 1e6) },
            command: spec.process.command + spec.process.args,
            remote: spec.remote.map { endpoint in
                let rule = DestinationRuleSpec.rule(for: spec, in: snapshot.destinationRules, rootNamespace: snapshot.mesh.rootNamespace)
                return .init(url: endpoint.url, tls: (rule?.tls?.mode ?? (endpoint.secure ? .simple : .disable)).rawValue)
            },
            minInstances: spec.scaling.minInstances,
            maxInstances: spec.scaling.maxInstances, concurrency: spec.scaling.concurrency,
            timeout: spec.timeout.gatehouseDescription, origin: resource?.document.origin,
            appliedAt: resource?.appliedAt, appliedBy: resource?.appliedBy)
    }

    /// A function's revisions, oldest first, with their traffic, tags, subsets and instances.
    func revisions(_ context: AdminRequestContext) async -> Response {
        let key = FunctionKey(namespace: context.parameters.get("namespace") ?? "", name: context.parameters.get("name") ?? "")
        let (snapshot, known) = await controller.revisionState(of: key)
        guard let current = snapshot.function(key) else { return Self.error(.notFound, code: "not_found", "no function \(key)") }
        let stored: [StoredRevision]
        do { stored = try await store.revisions(of: key) } catch { return Self.error(.serviceUnavailable, code: "store_unavailable", error.description) }
        var numbers = Set(known)
        numbers.insert(current.generation)
        let shares = snapshot.routing.shares(of: current)
        let serving = Set(snapshot.servingRevisions.map(\.revisionKey))
        let list = numbers.sorted().map { number in
            let revision = RevisionKey(function: key, number: number)
            let record = stored.first { $0.key == revision }
            let status = runtime.pool(for: revision)?.status
            return AdminWire.RevisionStatus(
                name: revision.name, number: number, createdAt: record?.createdAt, createdBy: record?.createdBy,
                latest: number == current.generation,
                percent: shares.filter { $0.revision == revision }.reduce(0) { $0 + $1.percent },
                tags: shares.filter { $0.revision == revision }.compactMap(\.tag).map {
                    .init(tag: $0, url: HostRouter.url(for: current, tag: $0, domain: snapshot.mesh.domain, port: ingressPort))
                },
                subsets: snapshot.routing.subsets.filter { $0.key.function == key && $0.value == revision }.map(\.key.subset).sorted(),
                serving: serving.contains(revision), instances: status?.instances.count ?? 0,
                ready: status?.instances.count { $0.ready } ?? 0)
        }
        return Self.json(.ok, list)
    }

    /// Plain text, one line per output line; with `follow=true` it stays open and streams new lines
    /// until the caller disconnects or Gatehouse shuts down.
    func logs(_ request: Request, _ context: AdminRequestContext) -> Response {
        let key = FunctionKey(
            namespace: context.parameters.get("namespace") ?? "", name: context.parameters.get("name") ?? "")
        let query = request.uri.queryParameters
        var since: Date?
        if let text = query["since"] {
            guard let duration = Duration(parsing: String(text)), duration > .zero else {
                return Self.error(.badRequest, code: "bad_request", "since=\(text): write a duration such as 5m or 30s")
            }
            since = Date().addingTimeInterval(-Double(duration.nanosecondsClamped) / 1e9)
        }
        let follow = query["follow"].map { $0 == "true" || $0 == "1" } ?? false
        guard let output = runtime.output(for: key) else {
            return Self.error(.notFound, code: "not_found", "no function \(key)")
        }
        let follower = follow ? output.follow() : nil
        if follow, follower == nil {
            return Self.error(.tooManyRequests, code: "too_many_followers", "too many `logs --follow` callers for \(key); try again later")
        }
        let shown = (follower?.recent ?? output.recent).filter { since == nil || $0.time >= since! }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody { writer in
                if !shown.isEmpty { try await writer.write(ByteBuffer(string: shown.map(Self.format).joined())) }
                if let follower {
                    defer { follower.stop() }
                    // Ends when the caller hangs up (even on a quiet function), at shutdown, or when
                    // the function is deleted.
                    try await request.body.consumeWithInboundCloseHandler { _ in
                        try await withGracefulShutdownHandler {
                            for await line in follower.lines { try await writer.write(ByteBuffer(string: Self.format(line))) }
                        } onGracefulShutdown: {
                            follower.stop()
                        }
                    } onInboundClosed: {
                        follower.stop()
                    }
                }
                try await writer.finish(nil)
            })
    }

    func history(_ request: Request) async -> Response {
        let query = request.uri.queryParameters
        var kind = query["kind"].map(String.init)
        if let word = kind {
            guard let resolved = ResourceKinds.resolve(word) else { return Self.unknownKind(word) }
            kind = resolved.kind
        }
        let limit = query["limit"].flatMap { Int($0) }.map { min(max($0, 1), 10_000) } ?? 1000
        do {
            let entries = try await store.history(
                HistoryFilter(kind: kind, namespace: query["namespace"].map(String.init), name: query["name"].map(String.init)),
                limit: limit)
            return Self.json(.ok, entries)
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", error.description)
        }
    }

    func decision(_ requestId: String) -> Response {
        do {
            let entries = try decisions.decisions(requestId: requestId)
            guard !entries.isEmpty else {
                return Self.error(
                    .notFound, code: "not_found",
                    "no decision recorded for request \(requestId) (only requests to functions with policies have one; denials are kept for the retention period, plain allows only the last 4096 since start unless --decision-log-allowed disk)")
            }
            return Self.json(.ok, entries)
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", error.description)
        }
    }
}
