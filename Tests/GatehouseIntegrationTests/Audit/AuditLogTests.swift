import Foundation
import GatehouseTesting
import Testing

@Suite("The audit log: who did what, in a chain that shows tampering", .serialized)
struct AuditLogTests {
    /// The records `gatehouse audit -o json` prints (through the running Gatehouse's admin API).
    static func records(_ gatehouse: RunningGatehouse, _ arguments: [String] = []) async throws -> [[String: Any]] {
        let result = try await gatehouse.cli(["audit", "-o", "json", "--limit", "1000"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]] ?? []
    }

    @Test("A denied request and an admin apply are recorded with who, from where and what; ca issue too; verify passes")
    func deniedRequestAndApply() async throws {
        let config = fixtureFunction(name: "fn") + "---\n" + AuthorizationTests.denyDelete
        try await withGatehouse(config) { gatehouse in
            #expect(try await gatehouse.request("fn", method: .DELETE, headers: [("x-request-id", "audit-denied-1")]).status == 403)
            let changed = config.replacingOccurrences(of: "spec:\n  process:", with: "spec:\n  timeout: 60s\n  process:")
            let applied = try await gatehouse.apply("changed.yaml", changed)
            #expect(applied.status == 0, "\(applied.stderr)")
            _ = try await gatehouse.issueSVID("spiffe://cluster.local/ns/default/sa/billing")

            let records = try await eventually("the denial to reach the audit log") {
                let all = try await Self.records(gatehouse)
                return all.contains { $0["requestId"] as? String == "audit-denied-1" } ? all : nil
            }
            let denied = try #require(records.first { $0["requestId"] as? String == "audit-denied-1" })
            #expect(denied["kind"] as? String == "request.denied")
            #expect(denied["function"] as? String == "default/fn")
            #expect(denied["revision"] as? String == "fn-00001")
            #expect(denied["decision"] as? String == "deny")
            #expect(denied["action"] as? String == "DENY")
            #expect(denied["policy"] as? String == "default/no-delete")
            #expect(denied["method"] as? String == "DELETE")
            #expect((denied["sourceAddress"] as? String)?.hasPrefix("127.0.0.1") == true, "\(denied)")
            #expect((denied["hash"] as? String)?.count == 64)

            let change = try #require(records.first { $0["kind"] as? String == "admin.changed" && $0["credential"] as? String == "admin token" }, "\(records)")
            #expect(change["action"] as? String == "apply")
            #expect((change["sourceAddress"] as? String)?.hasPrefix("127.0.0.1:") == true, "\(change)")
            #expect((change["actor"] as? String)?.contains("@") == true, "the CLI's user@host: \(change)")
            let items = try #require(change["changes"] as? [[String: Any]])
            #expect(items.contains { $0["kind"] as? String == "Function" && $0["name"] as? String == "fn" && $0["result"] as? String == "configured" })

            #expect(records.contains { $0["kind"] as? String == "gatehouse.started" })
            #expect(records.contains { $0["kind"] as? String == "ca.root_created" })
            #expect(records.contains { $0["kind"] as? String == "ca.svid_issued" && $0["spiffeId"] as? String == "spiffe://cluster.local/ns/default/sa/billing" })
            #expect(!String(describing: records).contains(gatehouse.adminToken), "the admin token appears in no record")

            // Filters, through the admin API.
            let onlyDenials = try await Self.records(gatehouse, ["--function", "fn", "--decision", "deny"])
            #expect(!onlyDenials.isEmpty && onlyDenials.allSatisfy { $0["decision"] as? String == "deny" && $0["function"] as? String == "default/fn" })
            #expect(try await gatehouse.api("/api/v1/audit", token: "").status == 401, "read calls need the admin credential")
            #expect(try await gatehouse.api("/api/v1/audit?decision=maybe").status == 400)

            let verified = try await gatehouse.cli(["audit", "verify"])
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
            #expect(verified.stdout.contains("audit log intact"), "\(verified.stdout)")
        }
    }

    @Test("verify --state-dir, with Gatehouse stopped, names an edited, a deleted and an inserted record, and a forged checkpoint signature")
    func tampering() async throws {
        let gatehouse = try await RunningGatehouse.start(config: fixtureFunction(name: "fn") + "---\n" + AuthorizationTests.denyDelete)
        for index in 0..<6 {
            #expect(try await gatehouse.request("fn", method: .DELETE, headers: [("x-request-id", "tamper-\(index)")]).status == 403)
        }
        _ = try await eventually("the denials to reach the audit log") {
            try await Self.records(gatehouse).contains { $0["requestId"] as? String == "tamper-5" } ? true : nil
        }
        try await gatehouse.stop()
        defer { gatehouse.removeDirectory() }

        let state = gatehouse.stateDirectory
        let clean = try await Self.verifyOffline(state)
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")

        // Each tampering on its own copy of the state directory.
        let target = try Self.sqlite(state, "SELECT seq FROM audit_record WHERE requestId = 'tamper-2'")
        let seq = try #require(Int(target), "\(target)")
        let cases: [(name: String, script: String, expected: String)] = [
            ("edited", "db.execute(\"UPDATE audit_record SET body = replace(body, 'DELETE', 'GET') WHERE seq = \(seq)\")",
             "record \(seq) was changed"),
            ("deleted", "db.execute('DELETE FROM audit_record WHERE seq = \(seq)')", "record \(seq) was removed"),
            ("inserted", Self.insertScript(at: seq), "record \(seq) was inserted"),
            ("forged checkpoint", """
                first = db.execute('SELECT signature FROM audit_checkpoint ORDER BY seq LIMIT 1').fetchone()[0]
                db.execute('UPDATE audit_checkpoint SET signature = ? WHERE seq = (SELECT MAX(seq) FROM audit_checkpoint)', (first,))
                """, "does not verify"),
        ]
        for tampering in cases {
            let copy = gatehouse.directory.appendingPathComponent("state-\(tampering.name.replacingOccurrences(of: " ", with: "-"))")
            try FileManager.default.copyItem(at: state, to: copy)
            _ = try Self.python(copy, tampering.script)
            let result = try await Self.verifyOffline(copy)
            #expect(result.status == 1, "\(tampering.name): \(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains(tampering.expected), "\(tampering.name): \(result.stdout)")
        }
    }

    @Test("Retention cuts the chain at a checkpoint and keeps its hash: verify still passes, and says where it starts")
    func retention() async throws {
        let gatehouse = try await RunningGatehouse.start(
            config: fixtureFunction(name: "fn") + "---\n" + AuthorizationTests.denyDelete,
            arguments: ["--audit-max-records", "20", "--audit-checkpoint-records", "5", "--audit-checkpoint-interval", "1s"])
        defer { gatehouse.removeDirectory() }
        do {
            for index in 0..<40 {
                #expect(try await gatehouse.request("fn", method: .DELETE, headers: [("x-request-id", "old-\(index)")]).status == 403)
            }
            let anchored = try await eventually("retention to cut the chain") {
                let response = try await gatehouse.api("/api/v1/audit/verify")
                let report = response.json
                return report["anchorSeq"] is Int ? report : nil
            }
            #expect(anchored["ok"] as? Bool == true, "\(anchored)")
        } catch {
            _ = try? await gatehouse.stop()
            print("--- gatehouse stderr ---\n\(gatehouse.stderr)")
            throw error
        }
        try await gatehouse.stop()
        let first = try Self.sqlite(gatehouse.stateDirectory, "SELECT MIN(seq) FROM audit_record")
        #expect((Int(first) ?? 0) > 1, "the oldest records were removed (first is \(first))")
        let result = try await Self.verifyOffline(gatehouse.stateDirectory)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("anchored at checkpoint"), "\(result.stdout)")
    }

    // MARK: Helpers

    static func verifyOffline(_ state: URL) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await RunningGatehouse.runCLI(["audit", "verify", "--offline", "--state-dir", state.path])
    }

    /// Runs Python with `db` open on the state directory's audit.db, committing at the end.
    @discardableResult
    static func python(_ state: URL, _ body: String) throws -> String {
        let script = """
            import sqlite3, sys, hashlib
            db = sqlite3.connect(sys.argv[1])
            \(body.split(separator: "\n").joined(separator: "\n"))
            db.commit()
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, state.appendingPathComponent("audit.db").path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "python: \(body)")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func sqlite(_ state: URL, _ query: String) throws -> String {
        try python(state, "print(db.execute(\"\(query)\").fetchone()[0])")
    }

    /// Moves records `seq`… one place up and puts a well-formed record, correctly chained to the
    /// one before, at `seq`: what an attacker who knows the scheme would do.
    static func insertScript(at seq: Int) -> String {
        """
        prev = db.execute('SELECT hash FROM audit_record WHERE seq = \(seq - 1)').fetchone()[0]
        db.execute('UPDATE audit_record SET seq = seq + 1000000 WHERE seq >= \(seq)')
        db.execute('UPDATE audit_record SET seq = seq - 999999 WHERE seq >= 1000000')
        body = '{"at":"2026-01-01T00:00:00.000Z","kind":"admin.changed","seq":\(seq)}'
        digest = hashlib.sha256(bytes.fromhex(prev) + body.encode()).hexdigest()
        db.execute('INSERT INTO audit_record (seq, at, kind, body, prev, hash) VALUES (?, ?, ?, ?, ?, ?)', (\(seq), '2026-01-01T00:00:00.000Z', 'admin.changed', body, prev, digest))
        """
    }
}
