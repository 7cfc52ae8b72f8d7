import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseEvents
import GatehouseFunctions
import GatehouseRouting
import GatehouseStore
import GatehouseTracing
import GatehouseTelemetry
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
    /// The mesh listener's bound port (`explain --via mesh`).
    var meshPort = 0
    /// Recent requests' traces (`gatehouse trace`).
    var traces: RecentTraces?
    /// `istio.mesh_id` on the spans the API shows.
    var meshId = "cluster.local"
    /// Invokes functions without a socket (`POST /api/v1/invoke`, `gatehouse invoke --in-process`).
    var invoker: LocalInvoker?
    /// The audit log: every change is written to it, durably, before the change is acknowledged.
    var audit: AuditTrail?
    /// For the trust bundle `GET /api/v1/audit/verify` checks checkpoints against (`STATE_DIR/ca`).
    var stateDirectory: URL?
    /// The event store behind the Brokers and async calls (`/api/v1/triggers`, `dead-letters`, `calls`).
    var events: EventsWiring?
    /// Each trigger's gates (in flight, breaker), for `describe trigger`.
    var dispatcher: EventDispatcher?
    /// The nodes sharing the store, with their heartbeats (`GET /api/v1/nodes`, `gatehouse get nodes`).
    var nodes: (any NodeRegistry)?

    /// The routes under `/api/v1/`, behind `authenticator` (the token, or an admin SVID).
    func register(on router: Router<AdminRequestContext>, authenticator: some RouterMiddleware<AdminRequestContext>) {
        let api = router.group("api/v1").add(middleware: authenticator)
        api.post("apply") { request, context in await apply(request, context) }
        api.post("delete") { request, context in await delete(request, context) }
        api.get("resources") { request, _ in await resources(request) }
        api.get("functions") { request, _ in await functions(request) }
        api.get("functions/:namespace/:name/logs") { request, context in logs(request, context) }
        api.get("functions/:namespace/:name/revisions") { _, context in await revisions(context) }
        api.get("history") { request, _ in await history(request) }
        api.get("nodes") { request, _ in await nodeList(request) }
        api.get("decisions/:requestId") { _, context in decision(context.parameters.get("requestId") ?? "") }
        api.get("traces") { request, _ in traceList(request) }
        api.get("traces/:id") { _, context in trace(context.parameters.get("id") ?? "") }
        api.post("explain") { request, _ in await explain(request) }
        api.post("invoke") { request, _ in await invoke(request) }
        api.get("audit") { request, _ in await auditRecords(request) }
        api.get("audit/verify") { _, _ in await auditVerify() }
        api.get("audit/checkpoint") { _, _ in await auditCheckpoint() }
        api.post("nodes/join-tokens") { request, context in await createJoinToken(request, context) }
        registerEvents(on: api)
    }

    /// A described request run through the live stages (`gatehouse explain` without -f): the
    /// rate-limit buckets and key cache are the ones real requests meet; nothing is spent.
    func explain(_ request: Request) async -> Response {
        let body: ExplainRequest
        switch await decode(ExplainRequest.self, from: request) {
        case .success(let decoded): body = decoded
        case .failure(let response): return response
        }
        do {
            return Self.json(.ok, try await RequestExplainer(active: controller.live.active, ingressPort: ingressPort, meshPort: meshPort).explain(body))
        } catch {
            return Self.error(.badRequest, code: "bad_request", "\(error)")
        }
    }

    // MARK: Changes

    func apply(_ request: Request, _ context: AdminRequestContext) async -> Response {
        let body: AdminWire.ApplyRequest
        switch await decode(AdminWire.ApplyRequest.self, from: request) {
        case .success(let decoded): body = decoded
        case .failure(let response): return response
        }
        let origin = origin(request, context), files = body.files.map(\.name), dryRun = body.dryRun ?? false
        let requestId = UUID().uuidString.lowercased()
        // The intent is on disk before anything changes: no change goes live unaudited.
        if !dryRun, let refusal = await intended(.adminRequest(operation: "apply", origin: origin, requestId: requestId, files: files)) {
            return refusal
        }
        do {
            let summary = try await controller.apply(sources: body.files.map { ($0.name, $0.content) }, actor: actor(request, context), dryRun: dryRun)
            if let refusal = await audited(AuditEvent.adminChange(summary, operation: "apply", origin: origin, files: files).map { $0.with(requestId: requestId) }) {
                return refusal
            }
            return Self.json(.ok, report(summary))
        } catch {
            if !dryRun { await failed(.adminFailure(operation: "apply", origin: origin, requestId: requestId, reason: "\(error)")) }
            return Self.error(error)
        }
    }

    func delete(_ request: Request, _ context: AdminRequestContext) async -> Response {
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
        let origin = origin(request, context), requestId = UUID().uuidString.lowercased()
        if let refusal = await intended(.adminRequest(operation: "delete", origin: origin, requestId: requestId, deleting: keys)) { return refusal }
        do {
            let summary = try await controller.delete(keys, actor: actor(request, context))
            if let refusal = await audited(AuditEvent.adminChange(summary, operation: "delete", origin: origin).map { $0.with(requestId: requestId) }) {
                return refusal
            }
            return Self.json(.ok, report(summary))
        } catch {
            await failed(.adminFailure(operation: "delete", origin: origin, requestId: requestId, reason: "\(error)"))
            return Self.error(error)
        }
    }

    // MARK: Helpers

    static func format(_ line: OutputLog.Line) -> String {
        "\(line.time.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))) \(line.revision)/\(line.instance) \(line.stream.rawValue): \(line.text)\n"
    }

    /// Who made a change: the credential (the token, or the caller's verified SPIFFE ID), and the
    /// user the CLI says it runs as.
    func actor(_ request: Request, _ context: AdminRequestContext) -> String {
        let claimed = claimedActor(request)
        return "\(claimed.map { "\($0) " } ?? "")(\(context.adminIdentity ?? "admin token"))"
    }

    /// `X-Gatehouse-Actor`, printable ASCII only, at most 128 characters.
    func claimedActor(_ request: Request) -> String? {
        request.headers[Self.actorHeader].map { value in
            String(value.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }.prefix(128).map(Character.init))
        }
    }

    /// The audit log's account of who called: the claim, the credential verified, the address.
    func origin(_ request: Request, _ context: AdminRequestContext) -> AdminOrigin {
        AdminOrigin(
            actor: claimedActor(request), credential: context.adminIdentity == nil ? "admin token" : "admin svid",
            identity: context.adminIdentity, remote: context.remoteAddress)
    }

    /// Writes a change's audit record (durable) before the change is acknowledged; nil when it is
    /// written, or the answer saying it could not be (the change itself was made and stays; its
    /// `admin.requested` record, written before, says what was asked).
    func audited(_ event: AuditEvent?) async -> Response? {
        guard let audit, let event else { return nil }
        do {
            try await audit.record(event)
            return nil
        } catch {
            logger.error("a change was applied but its audit record could not be written", metadata: ["error": "\(error)"])
            return Self.error(
                .internalServerError, code: "audit_unavailable",
                "the change was applied, but its audit record could not be written (\(error)); fix the audit log (STATE_DIR/audit.db) before making more changes")
        }
    }

    /// A request body read and decoded, or the response refusing it.
    enum Decoded<T> {
        case success(T)
        case failure(Response)
    }

    func decode<T: Decodable>(_ type: T.Type, from request: Request) async -> Decoded<T> {
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

    func report(_ summary: ChangeSummary) -> AdminWire.ChangeReport {
        AdminWire.ChangeReport(
            items: summary.items.map { .init(kind: $0.key.kind, namespace: $0.key.namespace, name: $0.key.name, result: $0.result, generation: $0.generation) },
            notices: summary.notices, dryRun: summary.dryRun)
    }
}
