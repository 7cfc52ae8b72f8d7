import Crypto
import Foundation
import GatehouseStore
import Testing

@Suite("The audit hash chain")
struct AuditChainTests {
    static let clock = Date(timeIntervalSince1970: 1_800_000_000)

    static func event(_ index: Int) -> AuditEvent {
        var event = AuditEvent(kind: .requestDenied, at: clock.addingTimeInterval(Double(index)))
        event.requestId = "r-\(index)"
        event.function = "default/fn"
        event.decision = "deny"
        return event
    }

    /// `count` records chained from the genesis hash, as a writer would store them.
    static func chain(_ count: Int) -> [AuditRecord] {
        var records: [AuditRecord] = []
        for index in 1...count {
            records.append(.chained(event(index), seq: Int64(index), after: records.last?.hash ?? AuditRecord.genesis))
        }
        return records
    }

    static func walk(_ rows: [AuditChainWalk.Row], checkpoints: [AuditCheckpoint] = []) -> AuditProblem? {
        var walk = AuditChainWalk(anchor: nil, checkpoints: checkpoints, signers: [])
        for row in rows { walk.visit(row) }
        return walk.finish().problem
    }

    @Test("A record's hash is SHA-256 of the previous hash's bytes and its canonical JSON (sorted keys, no whitespace)")
    func hashing() throws {
        let records = Self.chain(2)
        let body = records[1].body
        #expect(body == #"{"at":"2027-01-15T08:00:02.000Z","decision":"deny","function":"default/fn","kind":"request.denied","requestId":"r-2","seq":2}"#)
        var hasher = SHA256()
        hasher.update(data: try #require(AuditCoding.bytes(hex: records[0].hash)))
        hasher.update(data: Array(body.utf8))
        #expect(records[1].hash == hasher.finalize().map { String(format: "%02x", $0) }.joined())
        #expect(records[1].previousHash == records[0].hash)
        #expect(records[0].previousHash == String(repeating: "0", count: 64))
    }

    @Test("An intact chain walks clean")
    func intact() {
        #expect(Self.walk(Self.chain(5).map(AuditChainWalk.Row.init)) == nil)
    }

    @Test("An edited record is named as changed")
    func edited() throws {
        var rows = Self.chain(5).map(AuditChainWalk.Row.init)
        rows[2].body = rows[2].body.replacingOccurrences(of: "deny", with: "allow")
        let problem = try #require(Self.walk(rows))
        #expect(problem.kind == .changed && problem.seq == 3, "\(problem)")
    }

    @Test("An indexed column that disagrees with the hashed content is a change")
    func column() throws {
        var rows = Self.chain(5).map(AuditChainWalk.Row.init)
        rows[3].function = "default/other"
        let problem = try #require(Self.walk(rows))
        #expect(problem.kind == .changed && problem.seq == 4 && problem.message.contains("function"), "\(problem)")
    }

    @Test("A deleted record is named as removed, renumbered or not")
    func deleted() throws {
        var rows = Self.chain(5).map(AuditChainWalk.Row.init)
        rows.remove(at: 2)
        let gap = try #require(Self.walk(rows))
        #expect(gap.kind == .removed && gap.seq == 3, "\(gap)")
        for index in 2..<rows.count { rows[index].seq -= 1 }
        let renumbered = try #require(Self.walk(rows))
        #expect(renumbered.kind == .removed && renumbered.seq == 3, "\(renumbered)")
    }

    @Test("An inserted record, correctly chained to the one before it, is named as inserted")
    func inserted() throws {
        let records = Self.chain(5)
        var rows = records.map(AuditChainWalk.Row.init)
        let forged = AuditRecord.chained(Self.event(99), seq: 3, after: records[1].hash)
        for index in 2..<rows.count { rows[index].seq += 1 }
        rows.insert(AuditChainWalk.Row(forged), at: 2)
        let problem = try #require(Self.walk(rows))
        #expect(problem.kind == .inserted && problem.seq == 3, "\(problem)")
    }

    @Test("A chain rewritten whole after an edit hashes consistently; the checkpoint it no longer matches shows it")
    func rewritten() throws {
        let original = Self.chain(6)
        let checkpoint = AuditCheckpoint(seq: 6, hash: original[5].hash, previous: 0, at: "x", signer: "s", signerFingerprint: "f", signature: "")
        var edited = Self.event(3)
        edited.decision = "allow"
        var rewritten = Array(original[0..<2])
        for (index, event) in [edited, Self.event(4), Self.event(5), Self.event(6)].enumerated() {
            rewritten.append(.chained(event, seq: Int64(index + 3), after: rewritten.last!.hash))
        }
        #expect(Self.walk(original.map(AuditChainWalk.Row.init), checkpoints: [checkpoint]) == nil)
        let problem = try #require(Self.walk(rewritten.map(AuditChainWalk.Row.init), checkpoints: [checkpoint]))
        #expect(problem.kind == .rewritten && problem.seq == 1, "\(problem)")
    }

    @Test("Truncating the chain before a checkpoint is seen; after the last one it cannot be")
    func truncated() throws {
        let records = Self.chain(6)
        let checkpoint = AuditCheckpoint(seq: 4, hash: records[3].hash, previous: 0, at: "x", signer: "s", signerFingerprint: "f", signature: "")
        let beforeCheckpoint = try #require(Self.walk(records.prefix(3).map(AuditChainWalk.Row.init), checkpoints: [checkpoint]))
        #expect(beforeCheckpoint.kind == .removed && beforeCheckpoint.seq == 4, "\(beforeCheckpoint)")
        #expect(Self.walk(records.prefix(5).map(AuditChainWalk.Row.init), checkpoints: [checkpoint]) == nil, "the documented limit")
    }

    @Test("Retention keeps the cut checkpoint as the anchor and records the prune; the rest still walks clean")
    func pruning() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = try SQLiteAuditLog(path: directory.appendingPathComponent("audit.db").path)
        for batch in 0..<6 {
            _ = try await log.append((1...5).map { Self.event(batch * 5 + $0) })
            // An unsigned stand-in: the walk checks hashes and links, not signatures.
            try await log.checkpoint { head in
                (AuditCheckpoint(seq: head.seq, hash: head.hash, previous: head.checkpointSeq, at: "x", signer: "s", signerFingerprint: "f", signature: ""),
                 AuditSignerChain(fingerprint: "f", spiffeId: "s", pem: ""))
            }
        }
        let pruned = try #require(try await log.prune(olderThan: nil, toFit: AuditBounds(maxRecords: 12), at: Self.clock))
        #expect(pruned.event.kind == .pruned && pruned.event.anchorSeq == 20 && pruned.event.count == 20, "\(pruned.event)")
        let walk = try await log.walk()
        #expect(walk.problem == nil, "\(String(describing: walk.problem))")
        #expect(walk.anchor?.seq == 20 && walk.firstSeq == 21 && walk.lastSeq == 31)
        let head = try await log.head()
        #expect(head.seq == 31 && head.checkpointSeq == 30)
    }
}
