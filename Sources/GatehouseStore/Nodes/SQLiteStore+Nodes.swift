import Foundation
import GatehouseCore
import GRDB

/// The node registry in the config database (table `node`): the nodes that share one SQLite file,
/// so on one machine, by the machine's clock. Each claim is one `BEGIN IMMEDIATE` transaction: it
/// holds the write lock while it reads the holder and decides, so two claims are never both granted.
extension SQLiteStore: NodeRegistry {
    public func claim(_ claim: NodeClaim) async throws(StoreError) -> NodeClaimDecision {
        try await writing { db in
            var decision = NodeClaimDecision.free
            try db.inTransaction(.immediate) {
                let now = Date().timeIntervalSince1970
                let holder = try Row.fetchOne(db, sql: "SELECT * FROM node WHERE name = ?", arguments: [claim.name.value])
                    .map { Self.nodeRecord($0, now: now) }
                decision = NodeLiveness.claim(by: claim.owner, holder: holder)
                if case .refused = decision { return .rollback }
                try db.execute(
                    sql: """
                        INSERT INTO node (name, owner, addresses, startedAt, lastHeartbeat, goneAfter) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, addresses = excluded.addresses,
                          startedAt = excluded.startedAt, lastHeartbeat = excluded.lastHeartbeat, goneAfter = excluded.goneAfter
                        """,
                    arguments: [claim.name.value, claim.owner, claim.addresses.json, now, now, claim.goneAfter.timeInterval])
                return .commit
            }
            return decision
        }
    }

    public func heartbeat(_ claim: NodeClaim) async throws(StoreError) -> Bool {
        try await writing { db in
            try db.execute(
                sql: "UPDATE node SET lastHeartbeat = ?, addresses = ?, goneAfter = ? WHERE name = ? AND owner = ?",
                arguments: [Date().timeIntervalSince1970, claim.addresses.json, claim.goneAfter.timeInterval, claim.name.value, claim.owner])
            return db.changesCount > 0
        }
    }

    public func leave(_ claim: NodeClaim) async throws(StoreError) {
        try await writing { db in
            try db.execute(sql: "DELETE FROM node WHERE name = ? AND owner = ?", arguments: [claim.name.value, claim.owner])
        }
    }

    public func nodes() async throws(StoreError) -> [NodeRecord] {
        try await reading { db in
            let now = Date().timeIntervalSince1970
            return try Row.fetchAll(db, sql: "SELECT * FROM node ORDER BY name").map { Self.nodeRecord($0, now: now) }
        }
    }

    @discardableResult
    public func prune(notSeenFor: Duration) async throws(StoreError) -> Int {
        try await writing { db in
            try db.execute(
                sql: "DELETE FROM node WHERE lastHeartbeat < ?",
                arguments: [Date().timeIntervalSince1970 - notSeenFor.timeInterval])
            return db.changesCount
        }
    }

    private static func nodeRecord(_ row: Row, now: TimeInterval) -> NodeRecord {
        let lastHeartbeat: Double = row["lastHeartbeat"]
        return NodeRecord(
            name: row["name"], owner: row["owner"], addresses: NodeAddresses(json: row["addresses"]),
            startedAt: Date(timeIntervalSince1970: row["startedAt"]), lastHeartbeat: Date(timeIntervalSince1970: lastHeartbeat),
            // A clock set back makes no node younger than its last heartbeat.
            sinceHeartbeat: .seconds(max(0, now - lastHeartbeat)), goneAfter: .wholeMilliseconds(row["goneAfter"] as Double))
    }
}
