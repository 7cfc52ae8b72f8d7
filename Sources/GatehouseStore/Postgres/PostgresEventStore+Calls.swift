import Foundation
import GatehouseCore
import Logging
import PostgresNIO

extension PostgresEventStore {
    /// As `lease`: pending calls due (never leased, or their lease expired), oldest first, taken
    /// with `FOR UPDATE SKIP LOCKED` so two nodes never run one call at once. Unreadable ones are
    /// removed and reported.
    public func leaseCalls(owner: String, now: Date, leaseFor: Duration, limit: Int) async throws(StoreError) -> [AsyncCall] {
        guard limit > 0 else { return [] }
        let at = EventRowCoding.seconds(now), until = at + EventRowCoding.seconds(leaseFor)
        let (calls, problems) = try await transaction { connection, logger in
            var calls: [AsyncCall] = []
            var problems: [String] = []
            var unreadable: [(id: String, size: Int)] = []
            let rows = try await connection.query(
                """
                SELECT id, accepted_at, request, size FROM gatehouse_async_call WHERE NOT done AND due <= \(at)
                ORDER BY due, seq LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """, logger: logger)
            for try await (id, acceptedAt, request, size) in rows.decode((String, Double, Data?, Int).self) {
                do throws(StoredBlobReader.Unreadable) {
                    guard let request else { throw StoredBlobReader.Unreadable(description: "no request") }
                    calls.append(try EventRowCoding.call(request, acceptedAt: Date(timeIntervalSince1970: acceptedAt)))
                } catch {
                    unreadable.append((id, size))
                    problems.append("async call \(id.prefix(64)) could not be read (\(error)); it was dropped")
                }
            }
            if !calls.isEmpty {
                try await connection.query(
                    "UPDATE gatehouse_async_call SET owner = \(owner), due = \(until) WHERE id = ANY(\(calls.map(\.id))::text[])", logger: logger)
            }
            if !unreadable.isEmpty {
                try await connection.query("DELETE FROM gatehouse_async_call WHERE id = ANY(\(unreadable.map(\.id))::text[])", logger: logger)
                try await Self.addTotals(pending: -unreadable.count, bytes: -unreadable.map(\.size).reduce(0, +), connection, logger: logger)
            }
            return (calls, problems)
        }
        report(problems)
        return calls
    }

    /// Durable. Stores the result of a call `owner` still leases (else nothing: another node took
    /// it over) and drops its request; a body over `maxResultBytes` is cut there, with a
    /// `gatehouse-result-truncated` header. Kept results are trimmed to their bounds.
    public func complete(call id: String, owner: String, result: AsyncCallResult, keepUntil: Date) async throws(StoreError) {
        let encoded = EventRowCoding.encode(result.kept(maxBytes: Self.maxResultBytes))
        let (maxResults, maxBytes) = (bounds.maxKeptResults, bounds.maxKeptResultBytes)
        try await transaction { connection, logger in
            var size: Int?
            for try await stored in try await connection.query(
                "SELECT size FROM gatehouse_async_call WHERE id = \(id) AND owner = \(owner) AND NOT done FOR UPDATE", logger: logger).decode(Int.self) {
                size = stored
            }
            guard let size else { return }
            // A done call's `size` is its result's: what the kept results' bound counts.
            try await connection.query(
                """
                UPDATE gatehouse_async_call SET done = true, owner = NULL, request = NULL, size = \(encoded.count), result = \(encoded),
                  keep_until = \(EventRowCoding.seconds(keepUntil)) WHERE id = \(id)
                """, logger: logger)
            try await Self.addTotals(pending: -1, bytes: -size, connection, logger: logger)
            try await Self.trimResults(maxResults: maxResults, maxBytes: maxBytes, connection, logger: logger)
        }
    }

    /// `.running` while a lease on it is current, `.pending` before (or after a lease expired),
    /// `.done` until `keepUntil`; nil when unknown, expired or unreadable (reported).
    public func call(_ id: String, now: Date) async throws(StoreError) -> AsyncCallState? {
        let at = EventRowCoding.seconds(now)
        let (state, problem) = try await read { connection, logger -> (AsyncCallState?, String?) in
            let rows = try await connection.query(
                "SELECT accepted_at, due, owner, done, result, keep_until FROM gatehouse_async_call WHERE id = \(id)", logger: logger)
            for try await (acceptedAt, due, owner, done, result, keepUntil) in rows.decode((Double, Double, String?, Bool, Data?, Double?).self) {
                let accepted = Date(timeIntervalSince1970: acceptedAt)
                guard done else { return (owner != nil && due > at ? .running(acceptedAt: accepted) : .pending(acceptedAt: accepted), nil) }
                guard let keepUntil, keepUntil > at else { return (nil, nil) }
                do throws(StoredBlobReader.Unreadable) {
                    guard let result else { throw StoredBlobReader.Unreadable(description: "no result") }
                    return (.done(try EventRowCoding.result(result)), nil)
                } catch {
                    return (nil, "async call \(id.prefix(64)) could not be read (\(error))")
                }
            }
            return (nil, nil)
        }
        report(problem.map { [$0] } ?? [])
        return state
    }

    /// Keeps the done results within their bounds, dropping those that expire first.
    static func trimResults(maxResults: Int, maxBytes: Int, _ connection: PostgresConnection, logger: Logger) async throws {
        var totals: (count: Int, bytes: Int) = (0, 0)
        for try await (count, bytes) in try await connection.query(
            "SELECT count(*), coalesce(sum(size), 0)::bigint FROM gatehouse_async_call WHERE done", logger: logger).decode((Int, Int).self) {
            totals = (count, bytes)
        }
        guard totals.count > maxResults || totals.bytes > maxBytes else { return }
        var dropped: [String] = []
        var (count, bytes) = totals
        for try await (id, size) in try await connection.query(
            "SELECT id, size FROM gatehouse_async_call WHERE done ORDER BY keep_until, id", logger: logger).decode((String, Int).self) {
            guard count > maxResults || bytes > maxBytes else { continue }
            dropped.append(id)
            count -= 1
            bytes -= size
        }
        try await connection.query("DELETE FROM gatehouse_async_call WHERE done AND id = ANY(\(dropped)::text[])", logger: logger)
    }
}
