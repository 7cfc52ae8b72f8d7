import PostgresNIO

extension PostgresConfigStore: ScheduleClaims {
    /// How many minutes of claims a schedule keeps (a day): older ones are never claimed again —
    /// a scheduler catches up minutes only a little late — so they are deleted as new ones come.
    static let claimedMinutesKept: Int64 = 1_440

    public func claim(schedule: String, minute: Int64, node: String) async throws(StoreError) -> Bool {
        try await using { connection, logger in
            let inserted = try await connection.query(
                """
                INSERT INTO gatehouse_schedule_claim (schedule, minute, node) VALUES (\(schedule), \(minute), \(node))
                ON CONFLICT (schedule, minute) DO UPDATE SET node = EXCLUDED.node
                WHERE gatehouse_schedule_claim.node = EXCLUDED.node RETURNING minute
                """, logger: logger)
            var claimed = false
            for try await _ in inserted.decode(Int64.self) { claimed = true }
            if claimed {
                let oldest = minute - Self.claimedMinutesKept
                // Every schedule's, so a deleted PingSource's claims go too.
                try await connection.query("DELETE FROM gatehouse_schedule_claim WHERE minute < \(oldest)", logger: logger)
            }
            return claimed
        }
    }
}
