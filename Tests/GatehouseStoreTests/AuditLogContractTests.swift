import Foundation
import GatehouseCore
import GatehouseStore
import Testing

/// What every audit log guarantees, once per store: SQLite (`STATE_DIR/audit.db`, several
/// processes on one file) and PostgreSQL (one chain for the nodes of a mesh).
extension ConfigStoreSuites {
@Suite("Every audit log: one chain, however many writers", .timeLimit(.minutes(3)))
struct AuditLogContractTests {
    static let clock = Date(timeIntervalSince1970: 1_800_000_000)

    static func event(_ id: String, at offset: Int = 0) -> AuditEvent {
        var event = AuditEvent(kind: .requestDenied, at: clock.addingTimeInterval(Double(offset)))
        event.requestId = id
        event.function = "default/fn"
        event.decision = "deny"
        return event
    }

    /// A stand-in signer: the walk checks hashes and links, not signatures.
    static func sign(_ head: AuditHead, by signer: String = "s") -> (AuditCheckpoint, AuditSignerChain)? {
        guard head.unsigned > 0 else { return nil }
        return (AuditCheckpoint(seq: head.seq, hash: head.hash, previous: head.checkpointSeq, at: "x", signer: signer, signerFingerprint: signer, signature: ""),
                AuditSignerChain(fingerprint: signer, spiffeId: signer, pem: ""))
    }

    @Test("Four writers with their own connections append and checkpoint at once: every record once, in one unbroken chain", arguments: StoreBackend.allCases)
    func severalWriters(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            var logs: [any AuditLog] = []
            for _ in 0..<4 { logs.append(try await fixture.openAuditLog()) }
            let written = try await withThrowingTaskGroup(of: [AuditRecord].self) { group in
                for (writer, log) in logs.enumerated() {
                    group.addTask {
                        var records: [AuditRecord] = []
                        for batch in 0..<15 {
                            records += try await log.append((0..<3).map { Self.event("w\(writer)-\(batch)-\($0)") })
                            if batch % 5 == 4 { try await log.checkpoint { Self.sign($0, by: "node-\(writer)") } }
                        }
                        return records
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let log = logs[0]
            try await log.checkpoint { Self.sign($0) }
            let walk = try await log.walk()
            #expect(walk.problem == nil, "\(String(describing: walk.problem))")
            // 180 requests, and one audit.checkpoint record per checkpoint.
            #expect(walk.records == 180 + walk.checkpoints.count && walk.firstSeq == 1 && walk.lastSeq == Int64(walk.records))
            // Each checkpoint names the one before it: no two were made on the same previous one.
            let previous = walk.checkpoints.map(\.previous)
            #expect(previous == [0] + walk.checkpoints.dropLast().map(\.seq), "\(previous)")
            let ids = try await log.records(AuditQuery(kind: "request.denied", limit: 1000)).compactMap(\.event.requestId)
            #expect(ids.count == 180 && Set(ids).count == 180)
            // What each writer was told it wrote is what the chain holds at that place.
            let stored = try await log.records(AuditQuery(after: 0, limit: 1000))
            let bySeq = Dictionary(uniqueKeysWithValues: stored.map { ($0.seq, $0.hash) })
            #expect(written.count == 180 && written.allSatisfy { bySeq[$0.seq] == $0.hash })
        }
    }

    @Test("Queries filter by principal (an agent by what it did for people too), function, decision, action in any case, kind; after pages oldest first", arguments: StoreBackend.allCases)
    func queries(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let log = try await fixture.openAuditLog()
            var viaAgent = Self.event("r-1", at: 1)
            viaAgent.requestPrincipal = "https://idp.example/alice"
            viaAgent.actors = ["spiffe://mesh.local/ns/default/sa/agent"]
            var workload = Self.event("r-2", at: 2)
            workload.sourcePrincipal = "spiffe://mesh.local/ns/default/sa/agent"
            workload.function = "default/other"
            var change = AuditEvent(kind: .adminChanged, at: Self.clock.addingTimeInterval(3))
            change.action = "Apply"
            change.decision = "allow"
            _ = try await log.append([viaAgent, workload, change, Self.event("r-4", at: 4)])

            func ids(_ query: AuditQuery) async throws -> [Int64] { try await log.records(query).map(\.seq) }
            #expect(try await ids(AuditQuery(principal: "mesh.local/ns/default/sa/agent")) == [1, 2])
            #expect(try await ids(AuditQuery(principal: "spiffe://mesh.local/ns/default/sa/agent")) == [1, 2])
            #expect(try await ids(AuditQuery(principal: "https://idp.example/alice")) == [1])
            #expect(try await ids(AuditQuery(function: "default/other")) == [2])
            #expect(try await ids(AuditQuery(decision: "ALLOW")) == [3])
            #expect(try await ids(AuditQuery(action: "apply")) == [3])
            #expect(try await ids(AuditQuery(kind: "request.denied")) == [1, 2, 4])
            #expect(try await ids(AuditQuery(since: Self.clock.addingTimeInterval(2), until: Self.clock.addingTimeInterval(3))) == [2, 3])
            #expect(try await ids(AuditQuery(limit: 2)) == [3, 4], "without after: the newest, oldest first")
            #expect(try await ids(AuditQuery(after: 1, limit: 2)) == [2, 3], "after: the oldest after it")
        }
    }

    @Test("Retention cuts at a checkpoint, keeps it as the anchor and records the prune; the rest still walks clean", arguments: StoreBackend.allCases)
    func retention(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let log = try await fixture.openAuditLog()
            for batch in 0..<6 {
                _ = try await log.append((1...5).map { Self.event("r-\(batch * 5 + $0)") })
                try await log.checkpoint { Self.sign($0) }
            }
            // Each batch: 5 records, the checkpoint over the 5th, its audit.checkpoint record.
            let pruned = try #require(try await log.prune(olderThan: nil, toFit: AuditBounds(maxRecords: 15), at: Self.clock))
            #expect(pruned.event.kind == .pruned && pruned.event.anchorSeq == 23 && pruned.event.count == 23, "\(pruned.event)")
            let walk = try await log.walk()
            #expect(walk.problem == nil, "\(String(describing: walk.problem))")
            #expect(walk.anchor?.seq == 23 && walk.firstSeq == 24 && walk.lastSeq == 37)
            let head = try await log.head()
            #expect(head.seq == 37 && head.checkpointSeq == 35)
            #expect(try await log.prune(olderThan: nil, toFit: AuditBounds(maxRecords: 15), at: Self.clock) == nil, "no cut at the anchor again")
            // Appends after the cut chain on.
            _ = try await log.append([Self.event("after")])
            #expect(try await log.walk().problem == nil)
        }
    }

    @Test("On PostgreSQL, an edited record and a removed checkpoint are named by the walk, and a body that is no longer JSON does not break queries")
    func tamperedTables() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let log = try await fixture.openAuditLog()
            var agent = Self.event("r-1")
            agent.actors = ["spiffe://mesh.local/ns/default/sa/agent"]
            _ = try await log.append([agent] + (2...3).map { Self.event("r-\($0)") })
            try await log.checkpoint { Self.sign($0) }
            _ = try await log.append((5...6).map { Self.event("r-\($0)") })
            try await log.checkpoint { Self.sign($0) }
            #expect(try await log.walk().problem == nil)

            try fixture.sql("UPDATE gatehouse_audit_record SET body = replace(body, 'deny', 'allow') WHERE seq = 2")
            let changed = try #require(try await log.walk().problem)
            #expect(changed.kind == .changed && changed.seq == 2, "\(changed)")
            try fixture.sql("UPDATE gatehouse_audit_record SET body = replace(body, 'allow', 'deny') WHERE seq = 2")
            #expect(try await log.walk().problem == nil, "put back as it was")

            // Records 1–3, the checkpoint over 3 and its record 4; 5–6, the checkpoint over 6, record 7.
            try fixture.sql("DELETE FROM gatehouse_audit_checkpoint WHERE seq = 6")
            let removed = try #require(try await log.walk().problem)
            #expect(removed.kind == .checkpoint && removed.seq == 6, "\(removed)")

            try fixture.sql("UPDATE gatehouse_audit_record SET body = 'not json' WHERE seq = 3")
            let found = try await log.records(AuditQuery(principal: "mesh.local/ns/default/sa/agent"))
            #expect(found.map(\.seq) == [1])
            let unreadable = try await log.records(AuditQuery(after: 2, limit: 1))
            #expect(unreadable.first?.event.kind.rawValue == "unreadable")
        }
    }
}
}
