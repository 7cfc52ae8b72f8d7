import Foundation
import GatehouseCore
import Logging
import PostgresNIO

/// The node registry in `gatehouse_node`. Every time is PostgreSQL's (`now()`): heartbeats are
/// stamped and ages measured by the one database clock, so a node whose own clock is off is
/// judged like any other.
extension PostgresConfigStore: NodeRegistry {
    public func claim(_ claim: NodeClaim) async throws(StoreError) -> NodeClaimDecision {
        try await using { connection, logger in
            try await connection.query("BEGIN", logger: logger)
            do {
                let decision = try await Self.claim(claim, on: connection, logger: logger)
                try await connection.query("COMMIT", logger: logger)
                return decision
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Inside the claim's transaction. A new name is inserted (a concurrent insert of the same name
    /// waits for the first to commit, then finds its row); an existing row is locked before it is judged.
    private static func claim(_ claim: NodeClaim, on connection: PostgresConnection, logger: Logger) async throws -> NodeClaimDecision {
        let name = claim.name.value, addresses = claim.addresses.json, goneAfter = claim.goneAfter.timeInterval
        let inserted = try await connection.query(
            """
            INSERT INTO gatehouse_node (name, owner, addresses, started_at, last_heartbeat, gone_after)
            VALUES (\(name), \(claim.owner), \(addresses), now(), now(), \(goneAfter))
            ON CONFLICT (name) DO NOTHING RETURNING name
            """, logger: logger)
        var claimed = false
        for try await _ in inserted { claimed = true }
        if claimed { return .free }
        var holder: NodeRecord?
        for try await row in try await connection.query(
            "SELECT *, \(unescaped: sinceHeartbeat) FROM gatehouse_node WHERE name = \(name) FOR UPDATE", logger: logger) {
            holder = try nodeRecord(row.makeRandomAccess())
        }
        let decision = NodeLiveness.claim(by: claim.owner, holder: holder)
        if case .refused = decision { return decision }
        try await connection.query(
            """
            UPDATE gatehouse_node SET owner = \(claim.owner), addresses = \(addresses), started_at = now(),
              last_heartbeat = now(), gone_after = \(goneAfter)
            WHERE name = \(name)
            """, logger: logger)
        return decision
    }

    public func heartbeat(_ claim: NodeClaim) async throws(StoreError) -> Bool {
        try await using { connection, logger in
            let rows = try await connection.query(
                """
                UPDATE gatehouse_node SET last_heartbeat = now(), addresses = \(claim.addresses.json), gone_after = \(claim.goneAfter.timeInterval)
                WHERE name = \(claim.name.value) AND owner = \(claim.owner) RETURNING name
                """, logger: logger)
            var updated = false
            for try await _ in rows { updated = true }
            return updated
        }
    }

    public func leave(_ claim: NodeClaim) async throws(StoreError) {
        try await using { connection, logger in
            _ = try await connection.query(
                "DELETE FROM gatehouse_node WHERE name = \(claim.name.value) AND owner = \(claim.owner)", logger: logger)
        }
    }

    public func nodes() async throws(StoreError) -> [NodeRecord] {
        try await using { connection, logger in
            var nodes: [NodeRecord] = []
            for try await row in try await connection.query(
                "SELECT *, \(unescaped: Self.sinceHeartbeat) FROM gatehouse_node ORDER BY name", logger: logger) {
                nodes.append(try Self.nodeRecord(row.makeRandomAccess()))
            }
            return nodes
        }
    }

    @discardableResult
    public func prune(notSeenFor: Duration) async throws(StoreError) -> Int {
        try await using { connection, logger in
            var pruned = 0
            for try await _ in try await connection.query(
                "DELETE FROM gatehouse_node WHERE last_heartbeat < now() - make_interval(secs => \(notSeenFor.timeInterval)) RETURNING name",
                logger: logger) {
                pruned += 1
            }
            return pruned
        }
    }

    /// The column a node's age is read as: seconds since its last heartbeat, by the database's clock.
    private static let sinceHeartbeat = "greatest(0, extract(epoch FROM now() - last_heartbeat))::float8 AS since_heartbeat"

    private static func nodeRecord(_ row: PostgresRandomAccessRow) throws -> NodeRecord {
        NodeRecord(
            name: try row["name"].decode(String.self), owner: try row["owner"].decode(String.self),
            addresses: NodeAddresses(json: try row["addresses"].decode(String.self)),
            startedAt: try row["started_at"].decode(Date.self), lastHeartbeat: try row["last_heartbeat"].decode(Date.self),
            sinceHeartbeat: .seconds(try row["since_heartbeat"].decode(Double.self)),
            goneAfter: .wholeMilliseconds(try row["gone_after"].decode(Double.self)))
    }
}
