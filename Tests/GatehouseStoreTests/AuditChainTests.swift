import Crypto
import Foundation
@testable import GatehouseStore
import GRDB
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
        let records = Self.chain(5)
        let checkpoint = AuditCheckpoint(seq: 5, hash: records[4].hash, previous: 0, at: "x", signer: "s", signerFingerprint: "f", signature: "")
        #expect(Self.walk(records.map(AuditChainWalk.Row.init), checkpoints: [checkpoint]) == nil)
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

    @Test("An append is fsynced before it returns: WAL with synchronous FULL on the writing connection")
    func durableSettings() async throws {
        try await Self.withLog { log, _ in
            let settings = try await log.database.read { db in
                try ["journal_mode", "synchronous", "auto_vacuum"].map { try String.fetchOne(db, sql: "PRAGMA \($0)") ?? "" }
            }
            #expect(settings == ["wal", "2", "2"], "WAL, synchronous FULL, incremental auto-vacuum")
        }
    }

    // MARK: Checkpoints in the chain, and retention

    /// An unsigned stand-in checkpoint: the walk checks hashes and links, not signatures.
    static func checkpoint(_ log: SQLiteAuditLog) async throws {
        try await log.checkpoint { head in
            guard head.unsigned > 0 else { return nil }
            return (AuditCheckpoint(seq: head.seq, hash: head.hash, previous: head.checkpointSeq, at: "x", signer: "s", signerFingerprint: "f", signature: ""),
                    AuditSignerChain(fingerprint: "f", spiffeId: "s", pem: ""))
        }
    }

    /// A fresh log in a directory of its own, removed when `body` returns.
    static func withLog(_ body: (SQLiteAuditLog, String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("audit.db").path
        try await body(try SQLiteAuditLog(path: path), path)
    }

    static func started(_ index: Int) -> AuditEvent {
        AuditEvent(kind: .started, at: clock.addingTimeInterval(Double(index)))
    }

    /// What an attacker with write access to audit.db does: sets `seq`, `prev` and `hash` of
    /// every record left (in order) as a writer would have (the reviewer's rehash.py).
    static func rehash(_ path: String, keeping keep: (AuditEvent) -> Bool) throws {
        let database = try DatabaseQueue(path: path)
        try database.write { db in
            let bodies = try String.fetchAll(db, sql: "SELECT body FROM audit_record ORDER BY seq")
            try db.execute(sql: "DELETE FROM audit_record")
            var previous = AuditRecord.genesis, seq: Int64 = 0
            for body in bodies {
                let event = try AuditCoding.decoder.decode(AuditEvent.self, from: Data(body.utf8))
                guard keep(event) else { continue }
                seq += 1
                let row = AuditChainWalk.Row(AuditRecord.chained(event, seq: seq, after: previous))
                try db.execute(
                    sql: "INSERT INTO audit_record (seq, at, kind, requestId, function, decision, body, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [row.seq, row.at, row.kind, row.requestId, row.function, row.decision, row.body, row.previousHash, row.hash])
                previous = row.hash
            }
        }
    }

    static func sql(_ path: String, _ statement: String) throws {
        try DatabaseQueue(path: path).write { try $0.execute(sql: statement) }
    }

    @Test("Deleting a checkpoint row is seen: the checkpoint's own record in the chain names it")
    func checkpointRowRemoved() async throws {
        try await Self.withLog { log, path in
            for batch in 0..<3 {
                _ = try await log.append((1...3).map { Self.event(batch * 3 + $0) })
                try await Self.checkpoint(log)
            }
            #expect(try await log.walk().problem == nil)
            // Records 1–3, checkpoint over 3 and its record 4; 5–7, over 7, record 8; …
            try Self.sql(path, "DELETE FROM audit_checkpoint WHERE seq = 7")
            let problem = try #require(try await log.walk().problem)
            #expect(problem.kind == .checkpoint && problem.seq == 7 && problem.message.contains("the checkpoint at record 7 was removed"), "\(problem)")
        }
    }

    @Test("Deleting every checkpoint and rehashing the chain without the records of one is seen: no checkpoint covers them")
    func everyCheckpointRemoved() async throws {
        try await Self.withLog { log, path in
            _ = try await log.append([Self.started(0)] + (1...3).map(Self.event))
            try await Self.checkpoint(log)
            _ = try await log.append((4...6).map(Self.event))
            try await Self.checkpoint(log)
            try Self.sql(path, "DELETE FROM audit_checkpoint; DELETE FROM audit_signer")
            try Self.rehash(path) { $0.kind != .checkpointed && $0.requestId != "r-2" }
            let problem = try #require(try await log.walk().problem, "a rewritten chain with no checkpoint must not verify")
            #expect(problem.kind == .checkpoint && problem.seq == 1 && problem.message.contains("under no checkpoint"), "\(problem)")
        }
    }

    @Test("Deleting the checkpoints after a start and rehashing the records after them is seen: a start is always checkpointed")
    func startUncovered() async throws {
        try await Self.withLog { log, path in
            _ = try await log.append([Self.started(0), Self.event(1)])
            try await Self.checkpoint(log)
            _ = try await log.append([Self.started(2), Self.event(3), Self.event(4)])
            try await Self.checkpoint(log)
            // Keep the first checkpoint (over record 2) and its record 3; edit what follows.
            try Self.sql(path, "DELETE FROM audit_checkpoint WHERE seq > 2")
            try Self.rehash(path) { !($0.kind == .checkpointed && $0.seq != 3) && $0.requestId != "r-4" }
            let problem = try #require(try await log.walk().problem)
            #expect(problem.kind == .checkpoint && problem.seq == 4 && problem.message.contains("gatehouse.started"), "\(problem)")
        }
    }

    @Test("Cutting the tail with its checkpoints passes the file alone; a checkpoint kept outside shows it")
    func truncatedBeforeOutsideAnchor() async throws {
        try await Self.withLog { log, path in
            _ = try await log.append([Self.started(0)] + (1...3).map(Self.event))
            try await Self.checkpoint(log)
            _ = try await log.append((4...6).map(Self.event))
            try await Self.checkpoint(log)
            let kept = try #require(try await log.latestCheckpoint())
            let whole = try await log.walk(outside: kept)
            #expect(kept.seq == 8 && whole.problem == nil)
            try Self.sql(path, "DELETE FROM audit_record WHERE seq > 5; DELETE FROM audit_checkpoint WHERE seq > 5")
            #expect(try await log.walk().problem == nil, "the documented limit: the file alone cannot show it")
            let problem = try #require(try await log.walk(outside: kept).problem)
            #expect(problem.kind == .removed && problem.seq == 6 && problem.message.contains("kept outside"), "\(problem)")
        }
    }

    @Test("Retention by age cuts only the prefix that is all older: one old-dated record does not take newer ones along")
    func retentionByAge() async throws {
        try await Self.withLog { log, _ in
            let old = Self.clock.addingTimeInterval(-100 * 86400)
            func events(_ ids: ClosedRange<Int>, at: Date) -> [AuditEvent] {
                ids.map { var event = Self.event($0); event.at = at; return event }
            }
            _ = try await log.append(events(1...3, at: old))
            try await Self.checkpoint(log)
            _ = try await log.append(events(4...6, at: Self.clock))
            try await Self.checkpoint(log)
            // A request that began long ago (its record carries its start time), then new ones.
            _ = try await log.append(events(7...7, at: old) + events(8...9, at: Self.clock))
            try await Self.checkpoint(log)
            let pruned = try #require(try await log.prune(olderThan: Self.clock.addingTimeInterval(-90 * 86400), toFit: AuditBounds(), at: Self.clock))
            #expect(pruned.event.anchorSeq == 3, "\(pruned.event)")
            let kept = try await log.records(AuditQuery(limit: 100)).compactMap(\.event.requestId)
            #expect(kept == (4...9).map { "r-\($0)" }, "\(kept)")
            #expect(try await log.walk().problem == nil)
        }
    }

    @Test("Size bounds never cut admin, CA or start records younger than the retention: they are carried forward")
    func boundsKeepAdminRecords() async throws {
        try await Self.withLog { log, _ in
            var change = AuditEvent(kind: .adminChanged, at: Self.clock)
            change.action = "apply"
            change.actor = "alice@host"
            _ = try await log.append([Self.started(0), change])
            try await Self.checkpoint(log)
            for batch in 0..<5 {
                var refused = (1...10).map { index -> AuditEvent in
                    var event = AuditEvent(kind: .adminRefused, at: Self.clock)
                    event.reason = "wrong token \(batch * 10 + index)"
                    return event
                }
                refused[0].sourceAddress = "127.0.0.1:1"
                _ = try await log.append(refused)
                try await Self.checkpoint(log)
            }
            let pruned = try #require(try await log.prune(olderThan: Self.clock.addingTimeInterval(-86400), toFit: AuditBounds(maxRecords: 20), at: Self.clock))
            #expect(pruned.event.detail?.contains("carried forward") == true, "\(pruned.event)")
            let changes = try await log.records(AuditQuery(kind: "admin.changed", limit: 10))
            #expect(changes.count == 1 && changes[0].event.actor == "alice@host" && changes[0].event.carriedFrom == 2, "\(changes.map(\.event))")
            #expect(try await log.records(AuditQuery(kind: "gatehouse.started", limit: 10)).count == 1)
            let walk = try await log.walk()
            #expect(walk.problem == nil && (walk.anchor?.seq ?? 0) > 2, "\(String(describing: walk.problem))")
        }
    }
}
