import Foundation
import GatehouseIdentity
import GatehouseTesting
import Testing

/// The attacks of the audit log's review, each performed on a real state directory.
@Suite("The audit log against a writer of the state directory", .serialized)
struct AuditAttackTests {
    /// Deletes every checkpoint and signer, drops the records `drop` names (a Python condition on
    /// `ev`, the decoded record) and rehashes the rest from the genesis: no key needed.
    static func rehashScript(drop: String) -> String {
        """
        import json
        rows = db.execute('SELECT seq, body FROM audit_record ORDER BY seq').fetchall()
        db.execute('DELETE FROM audit_record'); db.execute('DELETE FROM audit_checkpoint'); db.execute('DELETE FROM audit_signer')
        prev = '0' * 64; seq = 0
        for old, body in rows:
            ev = json.loads(body)
            if \(drop): continue
            seq += 1; ev['seq'] = seq
            b = json.dumps(ev, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
            h = hashlib.sha256(bytes.fromhex(prev) + b.encode()).hexdigest()
            db.execute('INSERT INTO audit_record (seq, at, kind, requestId, traceId, sourcePrincipal, requestPrincipal, function, decision, action, body, prev, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)', (seq, ev['at'], ev['kind'], ev.get('requestId'), ev.get('traceId'), ev.get('sourcePrincipal'), ev.get('requestPrincipal'), ev.get('function'), ev.get('decision'), ev.get('action'), b, prev, h))
            prev = h
        """
    }

    @Test("Deleting every checkpoint and rehashing the chain is seen; cutting the tail with its checkpoints is seen with an anchor kept outside")
    func rewriteAndTruncate() async throws {
        let gatehouse = try await RunningGatehouse.start(config: fixtureFunction(name: "fn") + "---\n" + AuthorizationTests.denyDelete)
        for index in 0..<4 {
            #expect(try await gatehouse.request("fn", method: .DELETE, headers: [("x-request-id", "attack-\(index)")]).status == 403)
        }
        _ = try await eventually("the denials to reach the audit log") {
            try await AuditLogTests.records(gatehouse).contains { $0["requestId"] as? String == "attack-3" } ? true : nil
        }
        try await gatehouse.stop()
        defer { gatehouse.removeDirectory() }
        let state = gatehouse.stateDirectory

        // The operator keeps the newest checkpoint elsewhere.
        let exported = try await RunningGatehouse.runCLI(["audit", "checkpoint", "--offline", "--state-dir", state.path])
        #expect(exported.status == 0, "\(exported.stderr)")
        let anchor = gatehouse.directory.appendingPathComponent("anchor.json")
        try Data(exported.stdout.utf8).write(to: anchor)

        let rewritten = try Self.copy(state, "rewritten", in: gatehouse)
        _ = try AuditLogTests.python(rewritten, Self.rehashScript(drop: "ev['kind'] == 'audit.checkpoint' or ev.get('requestId') == 'attack-1'"))
        let caught = try await AuditLogTests.verifyOffline(rewritten)
        #expect(caught.status == 1 && caught.stdout.contains("under no checkpoint"), "\(caught.stdout)\(caught.stderr)")

        // Everything after the start's checkpoint (its audit.checkpoint record) goes, checkpoints too.
        let truncated = try Self.copy(state, "truncated", in: gatehouse)
        let startRecord = try AuditLogTests.sqlite(truncated, "SELECT MIN(seq) FROM audit_record WHERE kind = 'audit.checkpoint'")
        _ = try AuditLogTests.python(truncated, """
            db.execute('DELETE FROM audit_record WHERE seq > \(startRecord)')
            db.execute('DELETE FROM audit_checkpoint WHERE seq >= \(startRecord)')
            """)
        let alone = try await AuditLogTests.verifyOffline(truncated)
        #expect(alone.status == 0, "the documented limit: \(alone.stdout)\(alone.stderr)")
        let anchored = try await RunningGatehouse.runCLI(["audit", "verify", "--state-dir", truncated.path, "--anchor", anchor.path])
        #expect(anchored.status == 1 && anchored.stdout.contains("kept outside"), "\(anchored.stdout)\(anchored.stderr)")
        let intact = try await RunningGatehouse.runCLI(["audit", "verify", "--state-dir", state.path, "--anchor", anchor.path])
        #expect(intact.status == 0, "\(intact.stdout)\(intact.stderr)")
    }

    @Test("verify --bundle checks the file against that bundle while Gatehouse runs, not through its admin API")
    func bundleWhileRunning() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let stranger = try CertificateAuthority.create(trustDomain: "cluster.local")
            let strangerFile = gatehouse.directory.appendingPathComponent("stranger.pem")
            try Data(try stranger.root.serializeAsPEM().pemString.utf8).write(to: strangerFile)
            let refused = try await gatehouse.cli(["audit", "verify", "--bundle", strangerFile.path])
            #expect(refused.status == 1 && refused.stdout.contains("not in the trust bundle"), "\(refused.stdout)\(refused.stderr)")
            let own = gatehouse.stateDirectory.appendingPathComponent("ca/root-cert.pem")
            let verified = try await gatehouse.cli(["audit", "verify", "--bundle", own.path])
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        }
    }

    @Test("ca issue refuses Gatehouse's own service accounts")
    func reservedIdentities() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for id in [
            "spiffe://cluster.local/ns/default/sa/gatehouse-audit", "spiffe://cluster.local/ns/istio-system/sa/gatehouse",
            // A trigger's delivery identity: a workload holding it could pass for the broker.
            "spiffe://cluster.local/ns/default/sa/gatehouse-broker.default.orders",
        ] {
            let result = try await RunningGatehouse.runCLI([
                "ca", "issue", "--spiffe-id", id, "--out", directory.appendingPathComponent("out").path, "--state-dir", directory.path,
            ])
            #expect(result.status != 0 && result.stderr.contains("reserved for Gatehouse itself"), "\(id): \(result.stderr)")
        }
    }

    @Test("While audit.db cannot be written, an apply is refused and changes nothing")
    func changeRefusedWithoutAudit() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let lock = try Self.lock(gatehouse.stateDirectory.appendingPathComponent("audit.db"), seconds: 9)
            defer { lock.terminate() }
            let response = try await gatehouse.applyThroughAPI(file: "extra.yaml", fixtureFunction(name: "extra"))
            #expect(response.status == 503 && response.body.contains("audit_unavailable"), "\(response.status) \(response.body)")
            #expect(try await gatehouse.storedNames() == ["fn"])
        }
    }

    /// Holds an exclusive lock on `database` from another process (the reviewer's lock.py) until
    /// `seconds` pass; returns once it holds it.
    static func lock(_ database: URL, seconds: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
            c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(\(seconds)); c.execute('ROLLBACK')
            """, database.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        _ = output.fileHandleForReading.availableData  // "locked"
        return process
    }

    static func copy(_ state: URL, _ name: String, in gatehouse: RunningGatehouse) throws -> URL {
        let copy = gatehouse.directory.appendingPathComponent("state-\(name)")
        try FileManager.default.copyItem(at: state, to: copy)
        return copy
    }
}
