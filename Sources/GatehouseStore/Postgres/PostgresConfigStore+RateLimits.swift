import Foundation
import PostgresNIO

/// Shared token buckets: one row per (node, policy, key) with the node's running count.
extension PostgresConfigStore: SharedRateLimits {
    public func exchangeRateTakes(node: String, taken: [SharedRateTake], since: Date?, limit: Int) async throws(StoreError) -> SharedRateRead {
        let taken = taken.filter { SharedRateTake.storable($0.key) && SharedRateTake.storable($0.policy) }
        return try await using { connection, logger in
            if !taken.isEmpty {
                // One statement for the whole batch: arrays unnested into rows.
                try await connection.query(
                    """
                    INSERT INTO gatehouse_rate_take (node, policy, key, total, last_taken, updated_at)
                    SELECT \(node), policy, key, taken, taken, now()
                    FROM unnest(\(taken.map(\.policy))::text[], \(taken.map(\.key))::text[], \(taken.map { Int64($0.taken) })::bigint[]) AS t(policy, key, taken)
                    ON CONFLICT (node, policy, key) DO UPDATE
                    SET total = CASE WHEN gatehouse_rate_take.total > 4611686018427387903 THEN excluded.total
                                     ELSE gatehouse_rate_take.total + excluded.total END,
                        last_taken = excluded.total, updated_at = excluded.updated_at
                    """, logger: logger)
            }
            let window = Double(SharedRateTake.window.components.seconds)
            let since = since?.timeIntervalSince1970
            let rows = try await connection.query(
                """
                SELECT node, policy, key, total, last_taken, extract(epoch FROM updated_at)::float8, extract(epoch FROM now())::float8
                FROM gatehouse_rate_take
                WHERE node <> \(node) AND updated_at >= COALESCE(to_timestamp(\(since)), now() - make_interval(secs => \(window)))
                ORDER BY updated_at LIMIT \(limit)
                """, logger: logger)
            var counts: [SharedRateCount] = []
            var last: Double?, databaseNow: Double?
            for try await (node, policy, key, total, taken, changed, now) in rows.decode((String, String, String, Int64, Int64, Double, Double).self) {
                counts.append(SharedRateCount(node: node, policy: policy, key: key, total: total, last: taken))
                last = changed
                databaseNow = now
            }
            let overlap = Double(SharedRateTake.overlap.components.seconds)
            // A read cut short goes on from its last change; otherwise from a little before now.
            let next: Double = if counts.count >= limit, let last { last } else if let databaseNow { databaseNow - overlap }
                else { since ?? Date().timeIntervalSince1970 - overlap }
            return SharedRateRead(counts: counts, next: Date(timeIntervalSince1970: next))
        }
    }

    public func pruneRateTakes() async throws(StoreError) {
        _ = try await using { connection, logger in
            try await connection.query("DELETE FROM gatehouse_rate_take WHERE updated_at < now() - interval '1 minute'", logger: logger)
        }
    }
}
