import Foundation
import GRDB
import GatehouseCore
import Testing

@testable import GatehouseStore

/// What only the SQLite store has: its file and its migrations (the seam's behaviours are in
/// StoreContentsTests and StoreConcurrencyTests, run on every store).
@Suite("The SQLite config store")
struct SQLiteStoreTests {
    let directory: URL

    init() throws {
        directory = try temporaryStoreFolder()
    }

    var path: String { directory.appendingPathComponent("gatehouse.db").path }

    @Test("Upgrading a store kept before revisions makes each Function's current spec a revision, dated by its history")
    func revisionBackfill() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let old = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(old, upTo: "v2-decisions")
        try await old.write { db in
            // Created by alice, deleted, created again by bob, then configured at generation 2 by carol.
            for (id, at, actor, operation, generation) in [(1, 100.0, "alice", "created", 1), (2, 200.0, "alice", "deleted", 1),
                                                            (3, 300.0, "bob", "created", 1), (4, 400.0, "carol", "configured", 2)] {
                try db.execute(
                    sql: """
                        INSERT INTO change (id, batch, at, actor, operation, apiGroup, kind, namespace, name, generation, origin, diff)
                        VALUES (?, ?, ?, ?, ?, 'gatehouse.dev', 'Function', 'default', 'a', ?, 'a.yaml:1', '')
                        """, arguments: [id, id, at, actor, operation, generation])
            }
            try db.execute(sql: """
                INSERT INTO resource (apiGroup, kind, namespace, name, apiVersion, text, file, lineOffset, generation, appliedAt, appliedBy)
                VALUES ('gatehouse.dev', 'Function', 'default', 'a', 'gatehouse.dev/v1', 'v: 2', '/cfg/a.yaml', 0, 2, 500, 'dave')
                """)
        }
        let upgraded = try await SQLiteStore(path: path).revisions(of: FunctionKey(namespace: "default", name: "a"))
        #expect(upgraded.map(\.key.name) == ["a-00002"])
        #expect(upgraded.first?.createdBy == "carol" && upgraded.first?.createdAt == Date(timeIntervalSince1970: 400))
        #expect(upgraded.first?.document.text == "v: 2")
        // The store revision is the last history batch; each resource is at the batch that last wrote it.
        let state = try await SQLiteStore(path: path).state()
        #expect(state.revision == 4)
        #expect(state.resources.map(\.revision) == [4])
    }

    @Test("A file that is not a database is refused by name, and left as it was")
    func corrupt() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let garbage = Data(String(repeating: "garbage!", count: 1024).utf8)
        try garbage.write(to: URL(fileURLWithPath: path))
        do {
            _ = try SQLiteStore(path: path)
            Issue.record("expected a corrupt-database error")
        } catch {
            #expect(error.reason == .corrupt)
            #expect(error.description.contains(path) && error.description.contains("nothing was changed"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }
}

@Suite("Line diffs for the history")
struct TextDiffTests {
    @Test("Changed lines are marked, with one line of context")
    func changed() {
        let diff = TextDiff.lines(from: "a\nb\nc\nd\ne\n", to: "a\nb\nC\nd\ne\n")
        #expect(diff == "  b\n- c\n+ C\n  d")
    }

    @Test("A new document is all additions; a deletion all removals")
    func wholeDocuments() {
        #expect(TextDiff.lines(from: "", to: "x\ny\n") == "+ x\n+ y")
        #expect(TextDiff.lines(from: "x\ny", to: "") == "- x\n- y")
    }
}

@Suite("The decision log")
struct DecisionLogTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-decisions-\(UUID().uuidString.prefix(8))")
    var path: String { directory.appendingPathComponent("decisions.db").path }

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func entry(_ id: String, at seconds: Double, path: String = "/") -> DecisionEntry {
        DecisionEntry(
            requestId: id, at: Date(timeIntervalSince1970: seconds), function: "default/fn", method: "GET", host: "fn",
            path: path, sourceAddress: "127.0.0.1", outcome: "deny", policy: "default/p", rule: 0, reason: "because",
            audited: ["default/a", "default/b"], dryRun: [])
    }

    @Test("Decisions are found by request id, never overwritten, and pruned by age")
    func recordFindPrune() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = try SQLiteDecisionLog(path: path)
        try log.record([entry("old", at: 100), entry("new", at: 300)])
        #expect(try log.decisions(requestId: "new") == [entry("new", at: 300)])
        // A long request that started before "new" finishes, and is written, after it.
        try log.record([entry("slow", at: 150)])
        #expect(try log.prune(olderThan: Date(timeIntervalSince1970: 200)) == 2, "by time, not by order of writing")
        #expect(try log.decisions(requestId: "old").isEmpty)
        #expect(try log.decisions(requestId: "slow").isEmpty)
        #expect(try log.decisions(requestId: "new").first?.audited == ["default/a", "default/b"])
        // A reused request id adds a decision; it never replaces one.
        try log.record([entry("new", at: 400)])
        #expect(try log.decisions(requestId: "new").map(\.at.timeIntervalSince1970) == [300, 400])
        #expect(log.size.entries == 2)
    }

    @Test("A 60 KB path is kept as its first bytes and a marker, within 1 KiB; short fields are untouched")
    func rowsAreBounded() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = try SQLiteDecisionLog(path: path)
        let long = "/admin/" + String(repeating: "é", count: 30_000)
        try log.record([entry("long", at: 1, path: long)])
        let stored = try #require(try log.decisions(requestId: "long").first?.path)
        #expect(stored.utf8.count <= DecisionEntry.maxFieldBytes)
        #expect(stored.hasPrefix("/admin/éé"))
        let kept = stored.prefix { $0 != "…" }.utf8.count
        #expect(stored.hasSuffix("…[truncated \(long.utf8.count - kept) bytes]"), "the marker says how much is missing: \(stored.suffix(40))")
        #expect(DecisionEntry.truncated("/short") == "/short")
    }

    @Test("Past its bounds the log drops its oldest entries, keeps the newest, and the file stops growing")
    func boundedInTotal() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = try SQLiteDecisionLog(path: path)
        let bounds = DecisionLogBounds(maxEntries: 1_000, maxBytes: 256 << 10)
        let padding = String(repeating: "x", count: 900)
        var sizes: [Int] = []
        for round in 0..<10 {
            try log.record((0..<500).map { entry("r\(round)-\($0)", at: Double(round * 500 + $0), path: "/" + padding) })
            try log.prune(toFit: bounds)
            #expect(log.size.entries <= bounds.maxEntries && log.size.bytes <= bounds.maxBytes, "round \(round): \(log.size)")
            sizes.append((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        }
        #expect(try log.decisions(requestId: "r0-0").isEmpty, "the oldest went first")
        #expect(try log.decisions(requestId: "r9-499").count == 1, "the newest stays")
        // Bytes bound: ~1 KiB an entry, so about 230 of them stay.
        #expect((200...260).contains(log.size.entries), "\(log.size)")
        #expect(sizes.last! <= sizes[2] + 64 << 10, "the file is reused, not grown: \(sizes)")
        // Counted again from the file, the totals agree.
        #expect(try SQLiteDecisionLog(path: path).size == log.size)
    }

    @Test("A store that kept decisions in gatehouse.db opens; the old table is dropped and its space given back")
    func oldDecisionTableDropped() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let configPath = directory.appendingPathComponent("gatehouse.db").path
        let old = try DatabaseQueue(path: configPath)
        try SQLiteStore.migrator.migrate(old, upTo: "v3-revisions")
        try await old.write { db in
            for index in 0..<100 {
                try db.execute(sql: """
                    INSERT INTO decision (requestId, at, function, method, host, path, sourceAddress, outcome, policy, rule, reason, audited, dryRun)
                    VALUES (?, 1, 'default/fn', 'GET', 'fn', ?, NULL, 'deny', NULL, NULL, 'r', '', '')
                    """, arguments: ["id-\(index)", "/" + String(repeating: "a", count: 50_000)])
            }
        }
        try old.close()
        let before = (try FileManager.default.attributesOfItem(atPath: configPath)[.size] as? Int) ?? 0
        let store = try SQLiteStore(path: configPath)
        #expect(try await store.resources().isEmpty)
        let after = (try FileManager.default.attributesOfItem(atPath: configPath)[.size] as? Int) ?? 0
        #expect(before > 5_000_000 && after < 200_000, "\(before) → \(after)")
        let reopened = try DatabaseQueue(path: configPath)
        #expect(try await reopened.read { try $0.tableExists("decision") } == false)
    }
}
