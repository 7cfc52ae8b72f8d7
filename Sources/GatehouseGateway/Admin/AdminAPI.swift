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

/// `/api/v1/`: apply, delete, get, function status, logs and history (`docs/admin-api.md`).
struct AdminAPI: Sendable {
    /// The largest request body the API reads (an apply's YAML, as JSON); past it, 413.
    static let maxRequestBytes = 8 << 20
    static let actorHeader = HTTPField.Name("X-Gatehouse-Actor")!

    let controller: ConfigController
    let runtime: FunctionRuntime
    let store: any ConfigStore
    let decisions: any DecisionLog
    let ingressPort: Int
    let logger: Logger

    func register(on router: Router<AdminRequestContext>, token: AdminToken) {
        let api = router.group("api/v1").add(middleware: AdminAuthenticator(token: token, logger: logger))
        api.post("apply") { request, context in await apply(request, context) }
        api.post("delete") { request, context in await delete(request, context) }
        api.get("resources") { request, _ in await resources(request) }
        api.get("functions") { request, _ in await functions(request) }
        api.get("functions/:namespace/:name/logs") { request, context in logs(request, context) }
        api.get("history") { request, _ in history(request) }
        api.get("decisions/:requestId") { _, context in decision(context.parameters.get("requestId") ?? "") }
    }

    // MARK: Changes

    private func apply(_ request: Request, _ context: AdminRequestContext) async -> Response {
        let body: AdminWire.ApplyRequest
        switch await decode(AdminWire.ApplyRequest.self, from: request) {
        case .success(let decoded): body = decoded
        case .failure(let response): return response
        }
        do {
            let summary = try await controller.apply(
                sources: body.files.map { ($0.name, $0.content) }, actor: actor(request, context), dryRun: body.dryRun ?? false)
            return Self.json(.ok, report(summary))
        } catch {
            return Self.error(error)
        }
    }

    private func delete(_ request: Request, _ context: AdminRequestContext) async -> Response {
        let body: AdminWire.DeleteRequest
        switch await decode(AdminWire.DeleteRequest.self, from: request) {
        case .success(let decoded): body = decoded
        case .failure(let response): return response
        }
        var keys: [ResourceKey] = []
        for name in body.resources {
            guard let kind = ResourceKinds.resolve(name.kind) else { return Self.unknownKind(name.kind) }
            keys.append(ResourceKey(group: kind.group, kind: kind.kind, namespace: name.namespace, name: name.name))
        }
        do {
            return Self.json(.ok, report(try await controller.delete(keys, actor: actor(request, context))))
        } catch {
            return Self.error(error)
        }
    }

    // MARK: Reading

    private func resources(_ request: Request) async -> Response {
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
                origin: resource.document.origin, yaml: resource.document.text)
        })
    }

    private func functions(_ request: Request) async -> Response {
        let query = request.uri.queryParameters
        let snapshot = await controller.snapshot
        let stored = await controller.stored
        let statuses = snapshot.functions.filter { spec in
            query["namespace"].map { spec.namespace == $0 } ?? true && query["name"].map { spec.name == $0 } ?? true
        }.map { spec in
            let resource = stored.first { $0.document.key == ResourceKey(group: "gatehouse.dev", kind: "Function", namespace: spec.namespace, name: spec.name) }
            return status(of: spec, domain: snapshot.mesh.domain, resource: resource)
        }
        return Self.json(.ok, statuses)
    }

    private func status(of spec: FunctionSpec, domain: String, resource: StoredResource?) -> AdminWire.FunctionStatus {
        let pool = runtime.pool(for: spec.key)?.status
        let instances = (pool?.instances ?? []).map {
            AdminWire.FunctionStatus.Instance(id: $0.id, port: $0.port, ready: $0.ready, inflight: $0.inflight)
        }
        let state = instances.isEmpty ? "Idle" : instances.contains(where: \.ready) ? "Ready" : "Starting"
        return AdminWire.FunctionStatus(
            namespace: spec.namespace, name: spec.name, url: HostRouter.url(for: spec, domain: domain, port: ingressPort),
            revision: spec.revision, generation: spec.generation, state: state, instances: instances,
            queueDepth: pool?.queueDepth ?? 0,
            lastColdStart: pool?.lastColdStart.map { .init(at: $0.at, milliseconds: Double($0.duration.nanosecondsClamped) / 1e6) },
            command: spec.process.command + spec.process.args, minInstances: spec.scaling.minInstances,
            maxInstances: spec.scaling.maxInstances, concurrency: spec.scaling.concurrency,
            timeout: spec.timeout.gatehouseDescription, origin: resource?.document.origin,
            appliedAt: resource?.appliedAt, appliedBy: resource?.appliedBy)
    }

    /// Plain text, one line per output line; with `follow=true` it stays open and streams new lines
    /// until the caller disconnects or Gatehouse shuts down.
    private func logs(_ request: Request, _ context: AdminRequestContext) -> Response {
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

    private func history(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        var kind = query["kind"].map(String.init)
        if let word = kind {
            guard let resolved = ResourceKinds.resolve(word) else { return Self.unknownKind(word) }
            kind = resolved.kind
        }
        let limit = query["limit"].flatMap { Int($0) }.map { min(max($0, 1), 10_000) } ?? 1000
        do {
            let entries = try store.history(
                HistoryFilter(kind: kind, namespace: query["namespace"].map(String.init), name: query["name"].map(String.init)),
                limit: limit)
            return Self.json(.ok, entries)
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", error.description)
        }
    }

    private func decision(_ requestId: String) -> Response {
        do {
            let entries = try decisions.decisions(requestId: requestId)
            guard !entries.isEmpty else {
                return Self.error(
                    .notFound, code: "not_found",
                    "no decision recorded for request \(requestId) (only requests to functions with policies have one, kept for the retention period)")
            }
            return Self.json(.ok, entries)
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", error.description)
        }
    }

    // MARK: Helpers

    static func format(_ line: OutputLog.Line) -> String {
        "\(line.time.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))) \(line.revision)/\(line.instance) \(line.stream.rawValue): \(line.text)\n"
    }

    /// Who made a change: the credential, and the user the CLI says it runs as.
    private func actor(_ request: Request, _ context: AdminRequestContext) -> String {
        let claimed = request.headers[Self.actorHeader].map { value in
            String(value.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }.prefix(128).map(Character.init))
        }
        return "\(claimed.map { "\($0) " } ?? "")(admin token)"
    }

    /// A request body read and decoded, or the response refusing it.
    private enum Decoded<T> {
        case success(T)
        case failure(Response)
    }

    private func decode<T: Decodable>(_ type: T.Type, from request: Request) async -> Decoded<T> {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maxRequestBytes)
        } catch {
            return .failure(Self.error(.contentTooLarge, code: "too_large", "the request body is larger than \(Self.maxRequestBytes >> 20) MiB; split the apply into several"))
        }
        do {
            return .success(try AdminWire.decoder.decode(T.self, from: Data(buffer.readableBytesView)))
        } catch {
            return .failure(Self.error(.badRequest, code: "bad_request", "the body is not a valid \(T.self) JSON document: \(error)"))
        }
    }

    private func report(_ summary: ChangeSummary) -> AdminWire.ChangeReport {
        AdminWire.ChangeReport(
            items: summary.items.map { .init(kind: $0.key.kind, namespace: $0.key.namespace, name: $0.key.name, result: $0.result, generation: $0.generation) },
            notices: summary.notices, dryRun: summary.dryRun)
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let data = (try? AdminWire.encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data + [UInt8(ascii: "\n")])))
    }

    static func error(_ status: HTTPResponse.Status, code: String, _ message: String, diagnostics: [AdminWire.ErrorBody.Diagnostic]? = nil) -> Response {
        json(status, AdminWire.ErrorBody(status: status.code, code: code, message: message, diagnostics: diagnostics))
    }

    static func unknownKind(_ word: String) -> Response {
        error(.badRequest, code: "unknown_kind", "unknown kind \"\(word)\"; known kinds: \(ResourceKinds.known)")
    }

    static func error(_ error: ControlError) -> Response {
        switch error {
        case .invalid(let problems), .invalidStored(let problems):
            return Self.error(
                .badRequest, code: "invalid_config", error.description,
                diagnostics: problems.diagnostics.map {
                    .init(file: $0.location.file, line: $0.location.line, column: $0.location.column, field: $0.field, message: $0.message, fix: $0.fix)
                })
        case .empty(let message): return Self.error(.badRequest, code: "empty", message)
        case .tooLarge(let message): return Self.error(.contentTooLarge, code: "too_large", message)
        case .notFound: return Self.error(.notFound, code: "not_found", error.description)
        case .notReady: return Self.error(.badRequest, code: "function_not_ready", error.description)
        case .store: return Self.error(.serviceUnavailable, code: "store_unavailable", error.description)
        }
    }
}
