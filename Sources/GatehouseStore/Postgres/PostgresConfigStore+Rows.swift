import Foundation
import GatehouseCore
import PostgresNIO

/// Rows of the store's tables as the seam's values, and postgres-nio's errors as `StoreError`s.
extension PostgresConfigStore {
    static func resource(_ row: PostgresRandomAccessRow) throws -> StoredResource {
        StoredResource(
            document: ResourceDocument(
                key: ResourceKey(
                    group: try row["api_group"].decode(String.self), kind: try row["kind"].decode(String.self),
                    namespace: try row["namespace"].decode(String.self), name: try row["name"].decode(String.self)),
                apiVersion: try row["api_version"].decode(String.self), text: try row["text"].decode(String.self),
                file: try row["file"].decode(String.self), lineOffset: try row["line_offset"].decode(Int.self)),
            generation: try row["generation"].decode(Int.self), revision: try row["revision"].decode(Int64.self),
            appliedAt: Date(timeIntervalSince1970: try row["applied_at"].decode(Double.self)),
            appliedBy: try row["applied_by"].decode(String.self))
    }

    static func historyEntry(_ row: PostgresRandomAccessRow) throws -> HistoryEntry {
        HistoryEntry(
            id: try row["id"].decode(Int64.self), batch: try row["batch"].decode(Int64.self),
            at: Date(timeIntervalSince1970: try row["at"].decode(Double.self)), actor: try row["actor"].decode(String.self),
            operation: ResourceChange.Operation(rawValue: try row["operation"].decode(String.self)) ?? .configured,
            group: try row["api_group"].decode(String.self), kind: try row["kind"].decode(String.self),
            namespace: try row["namespace"].decode(String.self), name: try row["name"].decode(String.self),
            generation: try row["generation"].decode(Int.self), origin: try row["origin"].decode(String.self),
            diff: try row["diff"].decode(String.self))
    }

    static func storedRevision(_ row: PostgresRandomAccessRow) throws -> StoredRevision {
        let function = FunctionKey(namespace: try row["namespace"].decode(String.self), name: try row["name"].decode(String.self))
        return StoredRevision(
            key: RevisionKey(function: function, number: try row["number"].decode(Int.self)),
            document: ResourceDocument(
                key: ResourceKey(group: "gatehouse.dev", kind: "Function", namespace: function.namespace, name: function.name),
                apiVersion: try row["api_version"].decode(String.self), text: try row["text"].decode(String.self),
                file: try row["file"].decode(String.self), lineOffset: try row["line_offset"].decode(Int.self)),
            createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
            createdBy: try row["created_by"].decode(String.self))
    }

    /// What went wrong, in words that hold no secret: the server's message and SQLSTATE, or the
    /// kind of client failure. (`PSQLError`'s own description is deliberately generic.)
    static func storeError(_ error: any Error, location: PostgresStoreLocation) -> StoreError {
        if let error = error as? StoreError { return error }
        let path = location.description
        guard let error = error as? PSQLError else { return StoreError(.failed, path: path, detail: "\(error)") }
        if let server = error.serverInfo, let message = server[.message] {
            let state = server[.sqlState] ?? ""
            // 55P03 lock_not_available, 40001 serialization_failure, 40P01 deadlock_detected.
            let reason: StoreError.Reason = ["55P03", "40001", "40P01"].contains(state) ? .locked : .failed
            return StoreError(reason, path: path, detail: "\(message) (SQLSTATE \(state))")
        }
        let underlying = error.underlying.map { ": \($0)" } ?? ""
        return StoreError(.failed, path: path, detail: "\(error.code)\(underlying)")
    }
}
