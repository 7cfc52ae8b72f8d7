import Foundation
import Logging
import PostgresNIO

/// Retention, as `SQLiteAuditLog` does it: the chain is cut only at a checkpoint, which stays as
/// the anchor, in one transaction holding the chain's lock (so a node pruning and another
/// appending never interleave).
extension PostgresAuditLog {
    public func prune(olderThan cutoff: Date?, toFit bounds: AuditBounds, at now: Date) async throws(StoreError) -> AuditRecord? {
        let path = path
        return try await write { connection, logger in
            var totals: (count: Int64, bytes: Int64, first: Int64?, last: Int64?) = (0, 0, nil, nil)
            for try await row in try await connection.query(
                "SELECT COUNT(*), COALESCE(SUM(octet_length(body)), 0)::BIGINT, MIN(seq), MAX(seq) FROM gatehouse_audit_record", logger: logger
            ).decode((Int64, Int64, Int64?, Int64?).self) {
                totals = row
            }
            guard let first = totals.first, let last = totals.last else { return nil }
            // The newest record that must go; the cut is the newest checkpoint at or before it.
            var target: Int64 = 0
            var reasons: [String] = []
            let cutoffText = cutoff.map(AuditCoding.timestamp)
            if let cutoffText {
                // Only the prefix that is all older: a request's record carries its start time, so
                // one old-dated record must not take the newer ones before it along.
                var young: Int64?
                for try await seq in try await connection.query(
                    "SELECT MIN(seq) FROM gatehouse_audit_record WHERE at >= \(cutoffText)", logger: logger
                ).decode(Int64?.self) {
                    young = seq
                }
                if (young ?? last + 1) > first {
                    target = (young ?? last + 1) - 1
                    reasons.append("older than \(cutoffText)")
                }
            }
            if totals.count > Int64(bounds.maxRecords) {
                target = max(target, first + totals.count - Int64(bounds.maxRecords / 10 * 9) - 1)
                reasons.append("more than \(bounds.maxRecords) records")
            }
            if totals.bytes > Int64(bounds.maxBytes) {
                var left = totals.bytes
                let rows = try await connection.query(
                    "SELECT seq, octet_length(body)::BIGINT FROM gatehouse_audit_record ORDER BY seq", logger: logger
                ).decode((Int64, Int64).self)
                for try await (seq, size) in rows {
                    guard left > Int64(bounds.maxBytes / 10 * 9) else { break }
                    left -= size
                    target = max(target, seq)
                }
                reasons.append("more than \(bounds.maxBytes >> 20) MiB")
            }
            guard target > 0 else { return nil }
            var cut: (seq: Int64, hash: String)?
            for try await row in try await connection.query(
                """
                SELECT seq, hash FROM gatehouse_audit_checkpoint WHERE seq <= \(target) AND seq <= \(last)
                ORDER BY seq DESC LIMIT 1
                """, logger: logger
            ).decode((Int64, String).self) {
                cut = row
            }
            // Not the anchor again: that would cut nothing.
            guard let cut, cut.seq >= first else { return nil }
            let carried = try await Self.checkedPrefix(through: cut.seq, signed: cut.hash, keptSince: cutoffText, path: path, connection, logger)
            var removed = 0
            for try await count in try await connection.query(
                "WITH gone AS (DELETE FROM gatehouse_audit_record WHERE seq <= \(cut.seq) RETURNING 1) SELECT COUNT(*) FROM gone", logger: logger
            ).decode(Int.self) {
                removed = count
            }
            try await connection.query("DELETE FROM gatehouse_audit_checkpoint WHERE seq < \(cut.seq)", logger: logger)
            try await connection.query(
                "DELETE FROM gatehouse_audit_signer WHERE fingerprint NOT IN (SELECT signer_fingerprint FROM gatehouse_audit_checkpoint)", logger: logger)
            try await connection.query(
                """
                INSERT INTO gatehouse_audit_anchor (id, seq, hash, at) VALUES (1, \(cut.seq), \(cut.hash), \(AuditCoding.timestamp(now)))
                ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, at = excluded.at
                """, logger: logger)
            var event = AuditEvent(kind: .pruned, at: now)
            event.anchorSeq = cut.seq
            event.count = removed
            event.detail = "retention: " + reasons.joined(separator: ", ")
                + (carried.isEmpty ? "" : "; \(carried.count) admin, CA and start/stop record(s) younger than the retention carried forward")
            return try await Self.append([event] + carried, connection, logger).first
        }
    }

    /// Checks the records about to be cut still chain to the checkpoint they end at (so nothing
    /// edited in them is carried forward, and nothing is deleted that `verify` would have flagged),
    /// and returns the ones to keep: `AuditKind.kept` kinds at or after `keptSince`.
    private static func checkedPrefix(
        through cut: Int64, signed: String, keptSince: String?, path: String, _ connection: PostgresConnection, _ logger: Logger
    ) async throws -> [AuditEvent] {
        var previous = AuditRecord.genesis
        for try await hash in try await connection.query("SELECT hash FROM gatehouse_audit_anchor WHERE id = 1", logger: logger).decode(String.self) {
            previous = hash
        }
        var carried: [AuditEvent] = []
        let rows = try await connection.query(
            "SELECT seq, kind, at, body, prev, hash FROM gatehouse_audit_record WHERE seq <= \(cut) ORDER BY seq", logger: logger
        ).decode((Int64, String, String, String, String, String).self)
        for try await (seq, kind, at, body, prev, hash) in rows {
            guard prev == previous, AuditRecord.link(previous, body) == hash else {
                throw StoreError(.corrupt, path: path, detail: "audit record \(seq) does not chain (run gatehouse audit verify); retention keeps it until it is looked at")
            }
            previous = hash
            guard AuditKind.kept.contains(AuditKind(kind)), keptSince.map({ at >= $0 }) ?? true,
                  var event = try? AuditCoding.decoder.decode(AuditEvent.self, from: Data(body.utf8)) else { continue }
            event.carriedFrom = event.carriedFrom ?? seq
            carried.append(event)
        }
        guard previous == signed else {
            throw StoreError(.corrupt, path: path, detail: "the audit records up to \(cut) do not match its checkpoint (run gatehouse audit verify); retention keeps them")
        }
        return carried
    }
}
