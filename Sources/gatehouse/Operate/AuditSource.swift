import ArgumentParser
import Foundation
import GatehouseGateway
import GatehouseStore
import GatehouseTelemetry

/// Where `gatehouse audit` reads from: the running Gatehouse's admin API, or — with `--offline`,
/// `--bundle`, or when no Gatehouse runs on the state directory — `STATE_DIR/audit.db` itself,
/// opened read only (safe while another process holds the state directory).
///
/// `verify --bundle` never asks the running Gatehouse: the API (found through `endpoints.json`,
/// which a writer of the state directory controls) would check against the state directory's
/// own roots and ignore the bundle — the one thing that makes the check independent.
struct AuditSourceOptions: ParsableArguments {
    @OptionGroup var connection: AdminConnectionOptions

    @Flag(help: "Read STATE_DIR/audit.db directly (read only), not the running Gatehouse's admin API.")
    var offline = false

    @Option(help: "Trust bundle (PEM) checkpoints must chain to, for verify (default: the roots in STATE_DIR/ca). Implies --offline.")
    var bundle: String?

    enum Source {
        case api(AdminClient)
        case file(SQLiteAuditLog)
    }

    /// `local`: read the file even when a Gatehouse runs (as `--offline` and `--bundle` do).
    func open(local: Bool = false) throws -> Source {
        let state = connection.state.url
        let offline = offline || local || bundle != nil
        if !offline, connection.admin != nil || connection.cert != nil || Self.running(in: state) {
            return .api(try connection.connect())
        }
        let path = StateDirectory.auditPath(in: state)
        if !self.offline, !local, bundle == nil { FileHandle.standardError.write(Data("no gatehouse is running on \(state.path); reading \(path) directly\n".utf8)) }
        do {
            return .file(try SQLiteAuditLog(path: path, readOnly: true))
        } catch {
            throw CommandFailure("\(error.description); pass --state-dir DIR for another state directory")
        }
    }

    /// A Gatehouse runs on `state`: its `endpoints.json` names a live process.
    static func running(in state: URL) -> Bool {
        guard let endpoints = try? StateDirectory.readEndpoints(in: state) else { return false }
        return kill(endpoints.pid, 0) == 0 || errno == EPERM
    }

    func records(_ source: Source, _ query: AuditQuery) async throws -> [AuditRecordView] {
        switch source {
        case .file(let log):
            do { return try await log.records(query).map(AuditRecordView.init) } catch { throw CommandFailure(error.description) }
        case .api(let client):
            var parameters = ["limit=\(query.limit)"]
            if let since = query.since { parameters.append("since=\(AuditCoding.timestamp(since).queryEscaped)") }
            if let until = query.until { parameters.append("until=\(AuditCoding.timestamp(until).queryEscaped)") }
            for (name, value) in [("principal", query.principal), ("function", query.function), ("decision", query.decision),
                                  ("action", query.action), ("kind", query.kind)] {
                if let value { parameters.append("\(name)=\(value.queryEscaped)") }
            }
            if let after = query.after { parameters.append("after=\(after)") }
            let data = try await client.get("/api/v1/audit?" + parameters.joined(separator: "&"))
            do { return try AuditCoding.decoder.decode([AuditRecordView].self, from: data) } catch {
                throw CommandFailure("unexpected answer from the admin API: \(error)")
            }
        }
    }

    func verify(_ source: Source, outside: AuditCheckpoint? = nil) async throws -> AuditVerification {
        switch source {
        case .api(let client):
            do { return try AuditCoding.decoder.decode(AuditVerification.self, from: try await client.get("/api/v1/audit/verify")) } catch let error as CommandFailure {
                throw error
            } catch {
                throw CommandFailure("unexpected answer from the admin API: \(error)")
            }
        case .file(let log):
            let state = connection.state.url
            let verifier: AuditVerifier
            do {
                let mesh = try StateDirectory.storedMesh(in: state)
                verifier = try AuditVerifier.trusting(
                    bundleFile: bundle, caDirectory: state.appendingPathComponent("ca"),
                    auditIdentity: AuditVerifier.auditIdentity(trustDomain: mesh.trustDomain, rootNamespace: mesh.rootNamespace))
            } catch {
                throw CommandFailure("\(error); pass --bundle FILE with the mesh's trust bundle (gatehouse ca bundle)")
            }
            do { return try await verifier.verify(log, outside: outside) } catch { throw CommandFailure(error.description) }
        }
    }

    /// The newest signed checkpoint, or nil when there is none yet.
    func latestCheckpoint(_ source: Source) async throws -> AuditCheckpoint? {
        switch source {
        case .file(let log):
            do { return try await log.latestCheckpoint() } catch { throw CommandFailure(error.description) }
        case .api(let client):
            do { return try AuditCoding.decoder.decode(AuditCheckpoint.self, from: try await client.get("/api/v1/audit/checkpoint")) } catch let error as CommandFailure {
                if error.description.contains("no checkpoint yet") { return nil }
                throw error
            } catch {
                throw CommandFailure("unexpected answer from the admin API: \(error)")
            }
        }
    }
}
