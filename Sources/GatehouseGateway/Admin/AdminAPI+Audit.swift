import Foundation
import GatehouseStore
import GatehouseTelemetry
import Hummingbird

/// `/api/v1/audit`: the audit log's records, and its verification (`docs/reference/audit.md`).
/// Read calls: the same credential as every other `/api/v1/` call.
extension AdminAPI {
    /// Most records one call returns.
    static let maxAuditRecords = 10_000

    func auditRecords(_ request: Request) async -> Response {
        guard let audit else { return Self.error(.notFound, code: "not_found", "this gatehouse keeps no audit log") }
        let query: AuditQuery
        let parameters = request.uri.queryParameters
        switch Self.auditQuery({ parameters[$0[...]].map(String.init) }) {
        case .success(let parsed): query = parsed
        case .failure(let message): return Self.error(.badRequest, code: "bad_request", message.description)
        }
        do {
            let records = try await audit.log.records(query)
            return Self.auditJSON(records.map(AuditRecordView.init))
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", error.description)
        }
    }

    func auditVerify() async -> Response {
        guard let audit, let stateDirectory else { return Self.error(.notFound, code: "not_found", "this gatehouse keeps no audit log") }
        do {
            let bundle = try AuditVerifier.trustBundle(caDirectory: stateDirectory.appendingPathComponent("ca"))
            return Self.auditJSON(try await AuditVerifier(bundle: bundle, auditIdentity: audit.auditIdentity).verify(audit.log))
        } catch let error as StoreError {
            return Self.error(.serviceUnavailable, code: "store_unavailable", error.description)
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", "\(error)")
        }
    }

    /// `GET /api/v1/audit/checkpoint`: the newest signed checkpoint, to keep outside the state
    /// directory (`gatehouse audit checkpoint`, then `verify --anchor FILE`).
    func auditCheckpoint() async -> Response {
        guard let audit else { return Self.error(.notFound, code: "not_found", "this gatehouse keeps no audit log") }
        do {
            guard let checkpoint = try await audit.log.latestCheckpoint() else {
                return Self.error(.notFound, code: "not_found", "the audit log has no checkpoint yet")
            }
            return Self.auditJSON(checkpoint)
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", error.description)
        }
    }

    /// Writes a change's `admin.requested` record before the change: nil when written, else the
    /// answer refusing the change (nothing was changed).
    func intended(_ event: AuditEvent) async -> Response? {
        guard let audit else { return nil }
        do {
            try await audit.record(event)
            return nil
        } catch {
            logger.error("a change was refused: its audit record could not be written", metadata: ["error": "\(error)"])
            return Self.error(
                .serviceUnavailable, code: "audit_unavailable",
                "nothing was changed: the audit log (STATE_DIR/audit.db) cannot be written (\(error)); fix it and try again")
        }
    }

    /// Records that a requested change was refused; best effort (the change did not happen).
    func failed(_ event: AuditEvent) async {
        guard let audit else { return }
        do { try await audit.record(event) } catch { logger.error("could not write an admin.failed audit record", metadata: ["error": "\(error)"]) }
    }

    struct QueryProblem: Error, CustomStringConvertible { let description: String }

    /// `since`/`until` take a duration back from now (`5m`) or an ISO 8601 time; `after` a record
    /// number; `limit` at most `maxAuditRecords`.
    static func auditQuery(_ parameter: (String) -> String?) -> Result<AuditQuery, QueryProblem> {
        func time(_ name: String) -> Result<Date?, QueryProblem> {
            guard let text = parameter(name) else { return .success(nil) }
            if let duration = Duration(parsing: text), duration >= .zero {
                return .success(Date().addingTimeInterval(-Double(duration.components.seconds)))
            }
            guard let date = AuditCoding.date(text) else {
                return .failure(QueryProblem(description: "\(name)=\(text): write a duration such as 5m or 24h, or a time such as 2026-12-06T10:00:00Z"))
            }
            return .success(date)
        }
        var query = AuditQuery()
        switch (time("since"), time("until")) {
        case (.success(let since), .success(let until)):
            query.since = since
            query.until = until
        case (.failure(let problem), _), (_, .failure(let problem)):
            return .failure(problem)
        }
        func text(_ name: String) -> String? { parameter(name).flatMap { $0.isEmpty ? nil : $0 } }
        query.principal = text("principal")
        query.function = text("function").map { $0.contains("/") ? $0 : "default/\($0)" }
        query.decision = text("decision")
        query.action = text("action")
        query.kind = text("kind")
        if let after = text("after") {
            guard let number = Int64(after), number >= 0 else { return .failure(QueryProblem(description: "after=\(after): write a record number")) }
            query.after = number
        }
        if let limit = text("limit") {
            guard let number = Int(limit), number > 0 else { return .failure(QueryProblem(description: "limit=\(limit): write a positive number")) }
            query.limit = min(number, maxAuditRecords)
        }
        if let decision = query.decision, !["allow", "deny"].contains(decision.lowercased()) {
            return .failure(QueryProblem(description: "decision=\(decision): write allow or deny"))
        }
        return .success(query)
    }

    /// Audit JSON keeps the log's own encoding (times to the millisecond).
    static func auditJSON(_ value: some Encodable) -> Response {
        let data = (try? AuditCoding.encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data + [UInt8(ascii: "\n")])))
    }
}
