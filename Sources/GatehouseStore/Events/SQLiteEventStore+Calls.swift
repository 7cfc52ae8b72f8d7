import Foundation
import GatehouseCore
import GRDB

extension SQLiteEventStore {
    /// Durable (group-committed with accepts), `.full` past the bounds; a call counts as one
    /// pending item of its encoded request's size. An id already stored is an error.
    public func acceptCall(_ call: AsyncCall, now: Date) async throws(StoreError) -> AcceptOutcome {
        let request = EventRowCoding.encode(call)
        guard try await mayAdmit(pending: 1, bytes: request.count) else { return .full }
        switch try await durable(.call(id: call.id, request: request, acceptedAt: now)) {
        case .full: return .full
        case .accepted, .fired: return .accepted
        }
    }

    static func insertCall(id: String, request: Data, acceptedAt: Date, _ db: Database) throws {
        let at = EventRowCoding.seconds(acceptedAt)
        try db.execute(
            sql: "INSERT INTO async_call (id, acceptedAt, request, size, due, owner, done) VALUES (?, ?, ?, ?, ?, NULL, 0)",
            arguments: [id, at, request, request.count, at])
    }

    /// As `lease`: pending calls due (never leased, or their lease expired), oldest first. The
    /// returned calls carry the `acceptedAt` `acceptCall` was given. Unreadable ones are removed
    /// and reported.
    public func leaseCalls(owner: String, now: Date, leaseFor: Duration, limit: Int) async throws(StoreError) -> [AsyncCall] {
        guard limit > 0 else { return [] }
        let at = EventRowCoding.seconds(now), until = at + EventRowCoding.seconds(leaseFor)
        let (calls, problems) = try await write(durable: false) { db in
            var calls: [AsyncCall] = []
            var problems: [String] = []
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, acceptedAt, request, size FROM async_call WHERE done = 0 AND due <= ? ORDER BY due, rowid LIMIT ?",
                arguments: [at, limit])
            for row in rows {
                do {
                    let request: Data = try row.checked("request")
                    let call = try EventRowCoding.call(request, acceptedAt: Date(timeIntervalSince1970: try row.checked("acceptedAt")))
                    try db.execute(sql: "UPDATE async_call SET owner = ?, due = ? WHERE id = ?", arguments: [owner, until, call.id])
                    calls.append(call)
                } catch let unreadable as StoredBlobReader.Unreadable {
                    let id: String = (try? row.checked("id")) ?? "?"
                    try db.execute(sql: "DELETE FROM async_call WHERE id = ?", arguments: [id])
                    try PendingTotals.add(pending: -1, bytes: -((try? row.checked("size")) ?? 0), db)
                    problems.append("async call \(id.prefix(64)) could not be read (\(unreadable)); it was dropped")
                }
            }
            return (calls, problems)
        }
        report(problems)
        return calls
    }

    /// Durable. Stores the result of a call `owner` still leases (else nothing: another node took
    /// it over) and drops its request. A body over `maxResultBytes` is cut there, with a
    /// `gatehouse-result-truncated: ORIGINAL_LENGTH` header.
    public func complete(call id: String, owner: String, result: AsyncCallResult, keepUntil: Date) async throws(StoreError) {
        let encoded = EventRowCoding.encode(result.kept(maxBytes: Self.maxResultBytes))
        let (maxResults, maxBytes) = (bounds.maxKeptResults, bounds.maxKeptResultBytes)
        try await write(durable: true) { db in
            guard let size = try Int.fetchOne(
                db, sql: "SELECT size FROM async_call WHERE id = ? AND owner = ? AND done = 0", arguments: [id, owner])
            else { return }
            // A done call's `size` is its result's: what the kept results' bound counts.
            try db.execute(
                sql: "UPDATE async_call SET done = 1, owner = NULL, request = NULL, size = ?, result = ?, keepUntil = ? WHERE id = ?",
                arguments: [encoded.count, encoded, EventRowCoding.seconds(keepUntil), id])
            try PendingTotals.add(pending: -1, bytes: -size, db)
            try Self.trimResults(maxResults: maxResults, maxBytes: maxBytes, db)
        }
    }

    /// `.running` while a lease on it is current, `.pending` before (or after a lease expired),
    /// `.done` until `keepUntil`; nil when unknown, expired or unreadable (reported).
    public func call(_ id: String, now: Date) async throws(StoreError) -> AsyncCallState? {
        let at = EventRowCoding.seconds(now)
        let (state, problem) = try await read { db -> (AsyncCallState?, String?) in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT acceptedAt, due, owner, done, result, keepUntil FROM async_call WHERE id = ?", arguments: [id])
            else { return (nil, nil) }
            do {
                let acceptedAt = Date(timeIntervalSince1970: try row.checked("acceptedAt"))
                guard try row.checked("done", as: Int.self) != 0 else {
                    let owner: String? = try row.checked("owner"), due: Double = try row.checked("due")
                    return (owner != nil && due > at ? .running(acceptedAt: acceptedAt) : .pending(acceptedAt: acceptedAt), nil)
                }
                let keepUntil: Double? = try row.checked("keepUntil")
                guard let keepUntil, keepUntil > at else { return (nil, nil) }
                return (.done(try EventRowCoding.result(try row.checked("result"))), nil)
            } catch {
                return (nil, "async call \(id.prefix(64)) could not be read (\(error))")
            }
        }
        report(problem.map { [$0] } ?? [])
        return state
    }

    /// Keeps the done results within their bounds, dropping those that expire first: callers get
    /// their 202 at once, so results must not pile up faster than they expire.
    static func trimResults(maxResults: Int, maxBytes: Int, _ db: Database) throws {
        guard let totals = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS count, COALESCE(SUM(size), 0) AS bytes FROM async_call WHERE done = 1") else { return }
        var (count, bytes): (Int, Int) = (totals["count"], totals["bytes"])
        guard count > maxResults || bytes > maxBytes else { return }
        let oldest = try Row.fetchCursor(db, sql: "SELECT id, size FROM async_call WHERE done = 1 ORDER BY keepUntil, id")
        var dropped: [String] = []
        while count > maxResults || bytes > maxBytes, let row = try oldest.next() {
            dropped.append(row["id"])
            count -= 1
            bytes -= row["size"] as Int
        }
        for id in dropped { try db.execute(sql: "DELETE FROM async_call WHERE id = ?", arguments: [id]) }
    }
}
