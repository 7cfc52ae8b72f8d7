import PostgresNIO

/// Shared token buckets: one row per (node, policy, key) with the node's running count.
extension PostgresConfigStore: SharedRateLimits {
    public func exchangeRateTakes(node: String, taken: [SharedRateTake], limit: Int) async throws(StoreError) -> [SharedRateCount] {
        try await using { connection, logger in
            if !taken.isEmpty {
                // One statement for the whole batch: arrays unnested into rows.
                try await connection.query(
                    """
                    INSERT INTO gatehouse_rate_take (node, policy, key, total, last_taken, updated_at)
                    SELECT \(node), policy, key, taken, taken, now()
                    FROM unnest(\(taken.map(\.policy))::text[], \(taken.map(\.key))::text[], \(taken.map { Int64($0.taken) })::bigint[]) AS t(policy, key, taken)
                    ON CONFLICT (node, policy, key) DO UPDATE
                    SET total = gatehouse_rate_take.total + excluded.total, last_taken = excluded.total, updated_at = excluded.updated_at
                    """, logger: logger)
            }
            let seconds = Double(SharedRateTake.window.components.seconds)
            let rows = try await connection.query(
                """
                SELECT node, policy, key, total, last_taken FROM gatehouse_rate_take
                WHERE node <> \(node) AND updated_at > now() - make_interval(secs => \(seconds))
                LIMIT \(limit)
                """, logger: logger)
            var counts: [SharedRateCount] = []
            for try await (node, policy, key, total, last) in rows.decode((String, String, String, Int64, Int64).self) {
                counts.append(SharedRateCount(node: node, policy: policy, key: key, total: total, last: last))
            }
            return counts
        }
    }

    public func pruneRateTakes() async throws(StoreError) {
        _ = try await using { connection, logger in
            try await connection.query("DELETE FROM gatehouse_rate_take WHERE updated_at < now() - interval '1 minute'", logger: logger)
        }
    }
}
