import ArgumentParser
import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseGateway
import GatehouseListener
import GatehouseStore
import GatehouseTelemetry
import Logging
import NIOCore

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Gatehouse in the foreground: what the state directory holds, with the given files applied on top.",
        discussion: """
            Serves every resource applied before (kept in STATE_DIR/gatehouse.db); -f files are applied over them,
            and applied again on SIGHUP. Stops on SIGTERM or Ctrl-C: in-flight requests finish, then every function
            instance is stopped. The addresses actually bound are written to STATE_DIR/endpoints.json and the admin
            API token to STATE_DIR/admin.token (mode 0600).
            """)

    @Option(name: [.customShort("f"), .customLong("filename")], help: "A YAML file or a directory of them (repeatable).")
    var paths: [String] = []

    @OptionGroup var state: StateDirectoryOption

    @Option(help: "Ingress address HOST:PORT (default from Mesh, else 127.0.0.1:8080; port 0 picks a free port).")
    var ingress: String?

    @Option(help: "Admin address HOST:PORT (default from Mesh, else 127.0.0.1:15000).")
    var admin: String?

    @Option(help: "Mutual TLS (mesh) listener HOST:PORT (default from Mesh, else 127.0.0.1:15443).")
    var mesh: String?

    @Option(help: "Access log destination: stdout, off, or a file path.")
    var accessLog: String = "stdout"

    @Option(help: "Event loop threads for the ingress; one per core by default.")
    var eventLoops: Int = System.coreCount

    @Option(help: "Seconds in-flight requests may take to finish at shutdown.")
    var drainSeconds: Int = 10

    @Option(help: "Largest request head (request line and headers) in bytes; larger gets 431.")
    var maxHeaderBytes: Int = ListenerLimits().maxHeaderBytes

    @Option(help: "Largest request body in bytes; larger gets 413.")
    var maxBodyBytes: Int = ListenerLimits().maxBodyBytes

    @Option(help: "Close a client connection idle this long (a duration such as 60s or 500ms).")
    var clientIdleTimeout: String = "60s"

    @Option(help: "Answer 408 when a request body stops arriving for this long (a duration such as 30s).")
    var requestBodyIdleTimeout: String = "30s"

    @Option(help: "Read the admin API token from this file instead of making a new one (pins it across restarts).")
    var adminTokenFile: String?

    @Option(help: "How long authorization decisions are kept for `explain --request-id` (a duration such as 24h).")
    var decisionRetention: String = "24h"

    @Option(help: "Recent requests kept in memory for `gatehouse trace` (failed ones are kept apart, 256 more); 0 keeps none.")
    var keptTraces: Int = 1024

    @Option(help: "The most authorization decisions kept in decisions.db; past it the oldest go first.")
    var decisionLogMaxEntries: Int = DecisionLogBounds().maxEntries

    @Option(help: "The most MiB of decision text kept in decisions.db; past it the oldest go first.")
    var decisionLogMaxMb: Int = DecisionLogBounds().maxBytes >> 20

    @Option(help: "Where plain allows are kept for `explain --request-id`: memory (the last 4096; the default) or disk (decisions.db, as denials are; costs CPU per request).")
    var decisionLogAllowed: String = "memory"

    @Option(help: "How long audit records are kept (a duration such as 2160h, 90 days); cut at the checkpoint before.")
    var auditRetention: String = "2160h"

    @Option(help: "The most audit records kept in audit.db; past it the oldest go, cut at a checkpoint.")
    var auditMaxRecords: Int = AuditBounds().maxRecords

    @Option(help: "The most MiB of audit record JSON kept in audit.db; past it the oldest go, cut at a checkpoint.")
    var auditMaxMb: Int = AuditBounds().maxBytes >> 20

    @Option(help: "Sign an audit checkpoint after this many records.")
    var auditCheckpointRecords: Int = AuditCheckpointSchedule().everyRecords

    @Option(help: "Sign an audit checkpoint this long after the last one when any record is unsigned (a duration such as 60s).")
    var auditCheckpointInterval: String = "60s"

    @Option(help: ArgumentHelp(
        "The config database: a SQLite file (default STATE_DIR/gatehouse.db) or postgres://USER@HOST:PORT/DB (also GATEHOUSE_STORE_URL).",
        discussion: "Several gatehouse processes, each with its own --state-dir, may share one file or one PostgreSQL database: each serves what any of them applies, within about a second."))
    var store: String?

    @Option(help: "A file holding the PostgreSQL password for --store postgres://… (else PGPASSWORD); never put it in the URL.")
    var storePasswordFile: String?

    @Option(help: ArgumentHelp(
        "A file holding a join token (`gatehouse nodes token create`): a new node joins the mesh's CA through the PostgreSQL store.",
        discussion: "A node that holds the root certifies this node's own intermediate CA; the root key never comes here. Ignored once STATE_DIR/ca exists."))
    var joinTokenFile: String?

    @Option(help: "This node's name in the node registry (`gatehouse get nodes`): lowercase letters, digits, '-' and '.'; default the host name.")
    var nodeName: String?

    @Option(help: ArgumentHelp(
        "The host or address other nodes reach this node's mesh listener at (on Kubernetes, the pod's IP).",
        discussion: "Needed when the mesh listener binds a wildcard address (0.0.0.0, ::): without it the other nodes of a PostgreSQL mesh never pass requests to this one."))
    var advertiseHost: String?

    @Option(help: "How often this node heartbeats into the node registry (a duration such as 5s; default 5s on PostgreSQL, 30s on a SQLite store, where each heartbeat is a durable write to gatehouse.db); it is NotReady after three missed.")
    var nodeHeartbeat: String?

    @Option(help: "Delete registry rows of nodes that have not heartbeated for this long (a duration such as 24h).")
    var nodeForgetAfter: String = "24h"

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info

    @Option(help: "text (a summary once it serves, then a line per event, for a person) or json (one object per line, for log pipelines).")
    var logFormat: LogFormat = .text

    func run() async throws {
        // SIGHUP means "reload" (handled once everything runs); until then it must not end the process.
        signal(SIGHUP, SIG_IGN)
        // Everything Gatehouse writes (the databases, keys, logs) is its own alone; functions inherit
        // this mask too, so what they write stays theirs.
        umask(0o077)
        _ = try loadConfig(paths)  // the files alone first: their errors, before anything starts
        let token = try adminTokenFile.map(readToken)
        LoggingSystem.bootstrap { [logLevel, logFormat] label in
            switch logFormat {
            case .json:
                return JSONLogHandler(label: label, logLevel: logLevel)
            case .text:
                return TextLogHandler(logLevel: logLevel)
            }
        }
        let logger = Logger(label: "gatehouse")
        guard decisionLogMaxEntries > 0, decisionLogMaxMb > 0 else {
            throw CommandFailure("--decision-log-max-entries and --decision-log-max-mb must be positive; leave them out for 100000 and 64")
        }
        var options = Gatehouse.Options(
            stateDirectory: state.url, ingress: try parseAddress(ingress, flag: "--ingress"),
            admin: try parseAddress(admin, flag: "--admin"), accessLog: AccessLogDestination(parsing: accessLog),
            eventLoops: eventLoops,
            limits: ListenerLimits(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes, idleTimeout: try idleTimeout(),
                requestBodyIdleTimeout: try positiveDuration(requestBodyIdleTimeout, flag: "--request-body-idle-timeout")),
            drainGrace: .seconds(drainSeconds), configFiles: paths, adminToken: token,
            decisionRetention: try positiveDuration(decisionRetention, flag: "--decision-retention"),
            mesh: try parseAddress(mesh, flag: "--mesh"))
        options.startupSummary = logFormat == .text
        options.nodeName = try chooseNodeName().value
        if let advertiseHost {
            // A host, not host:port (an IPv6 address has two colons or more): the mesh port is the bound one.
            guard !advertiseHost.isEmpty, advertiseHost.filter({ $0 == ":" }).count != 1,
                  !advertiseHost.contains(where: { "/@ ?#[]%".contains($0) }), !["0.0.0.0", "::"].contains(advertiseHost)
            else {
                throw ValidationError("--advertise-host: '\(advertiseHost)' is not a host name or address (without a port); give one such as 10.1.2.3, fd00::5 or node-1.example")
            }
            options.advertiseHost = advertiseHost
        }
        options.nodeTiming = NodeTiming(
            heartbeatInterval: try positiveDuration(nodeHeartbeat ?? defaultHeartbeat, flag: "--node-heartbeat"),
            forgetAfter: try positiveDuration(nodeForgetAfter, flag: "--node-forget-after"))
        guard options.nodeTiming.forgetAfter > options.nodeTiming.goneAfter else {
            throw ValidationError("--node-forget-after \(nodeForgetAfter) must be longer than three --node-heartbeat intervals")
        }
        try chooseStore(&options)
        options.decisionBounds = DecisionLogBounds(maxEntries: decisionLogMaxEntries, maxBytes: decisionLogMaxMb << 20)
        guard ["memory", "disk"].contains(decisionLogAllowed) else {
            throw ValidationError("--decision-log-allowed \(decisionLogAllowed): write memory or disk")
        }
        options.allowedDecisionsOnDisk = decisionLogAllowed == "disk"
        options.audit = try auditSettings()
        guard keptTraces >= 0 else { throw ValidationError("--kept-traces takes 0 or more") }
        options.keptTraces = keptTraces
        do {
            try await Gatehouse(options: options, logger: logger).run()
        } catch let error as StateDirectory.Busy {
            throw CommandFailure(error.description)
        } catch let error as StateDirectory.Unusable {
            throw CommandFailure(error.description)
        } catch let error as StateDirectory.Untrusted {
            throw CommandFailure(error.description)
        } catch let error as ListenerFailure {
            throw CommandFailure(error.description)
        } catch let error as StartupFailure {
            throw CommandFailure("nothing was started: \(error.description)")
        } catch let error as StoreError {
            throw CommandFailure("nothing was started: \(error.description)")
        }
    }

    /// Nodes on PostgreSQL heartbeat every 5 s. On SQLite every heartbeat is a durable write (a rollback
    /// journal, fsynced) to the file the config lives in, which processes sharing it contend for: 30 s.
    private var defaultHeartbeat: String {
        PostgresStoreLocation.isURL(store ?? ProcessInfo.processInfo.environment["GATEHOUSE_STORE_URL"] ?? "") ? "5s" : "30s"
    }

    /// `--store` (or `GATEHOUSE_STORE_URL`): a postgres:// URL selects PostgreSQL; anything else is
    /// the SQLite file, as before. Nothing is said about the password but where it was not found.
    private func chooseStore(_ options: inout Gatehouse.Options) throws {
        let environment = ProcessInfo.processInfo.environment
        guard let value = store ?? environment["GATEHOUSE_STORE_URL"] else {
            if storePasswordFile != nil { throw ValidationError("--store-password-file goes with --store postgres://…") }
            if joinTokenFile != nil { throw ValidationError("--join-token-file goes with --store postgres://…: nodes join through the shared store") }
            return
        }
        guard PostgresStoreLocation.isURL(value) else {
            if storePasswordFile != nil { throw ValidationError("--store-password-file goes with --store postgres://…, not a SQLite file") }
            if joinTokenFile != nil { throw ValidationError("--join-token-file goes with --store postgres://…, not a SQLite file") }
            options.storePath = URL(fileURLWithPath: value).standardizedFileURL.path
            return
        }
        var password = environment["PGPASSWORD"]
        if let storePasswordFile {
            guard let text = try? String(contentsOfFile: storePasswordFile, encoding: .utf8) else {
                throw ValidationError("--store-password-file \(storePasswordFile): cannot read the file")
            }
            // One line; the newline an editor adds is not part of it.
            password = String(text.prefix { $0 != "\n" && $0 != "\r" })
        }
        options.joinTokenFile = joinTokenFile
        do {
            options.postgresStore = try PostgresStoreLocation(url: value, password: password)
        } catch {
            throw CommandFailure("nothing was started: \(error.description)")
        }
    }

    /// `--node-name`, checked; else the host name, made into a valid name (lowercased, other
    /// characters as `-`).
    private func chooseNodeName() throws -> NodeName {
        if let nodeName {
            do { return try NodeName(validating: nodeName) } catch { throw ValidationError("--node-name: \(error.description)") }
        }
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return NodeName.fromHostName(host)
    }

    private func readToken(_ path: String) throws -> AdminToken {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("--admin-token-file \(path): cannot read the file")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= 16, !token.contains(where: \.isWhitespace) else {
            throw ValidationError("--admin-token-file \(path): the token must be one word of at least 16 characters")
        }
        return AdminToken(token)
    }

    private func auditSettings() throws -> AuditTrail.Settings {
        guard auditMaxRecords > 0, auditMaxMb > 0, auditCheckpointRecords > 0 else {
            throw ValidationError(
                "--audit-max-records, --audit-max-mb and --audit-checkpoint-records must be positive; leave them out for 1000000, 256 and 1000")
        }
        var settings = AuditTrail.Settings()
        settings.retention = try positiveDuration(auditRetention, flag: "--audit-retention")
        settings.bounds = AuditBounds(maxRecords: auditMaxRecords, maxBytes: auditMaxMb << 20)
        settings.schedule = AuditCheckpointSchedule(
            everyRecords: auditCheckpointRecords, interval: try positiveDuration(auditCheckpointInterval, flag: "--audit-checkpoint-interval"))
        return settings
    }

    private func idleTimeout() throws -> Duration {
        try positiveDuration(clientIdleTimeout, flag: "--client-idle-timeout")
    }

    private func positiveDuration(_ text: String, flag: String) throws -> Duration {
        guard let duration = Duration(parsing: text), duration > .zero else {
            throw ValidationError("\(flag) \(text): write a duration such as 60s, 500ms or 24h")
        }
        return duration
    }

    private func parseAddress(_ text: String?, flag: String) throws -> ListenAddress? {
        guard let text else { return nil }
        guard let address = ListenAddress(parsing: text) else {
            throw ValidationError("\(flag) \(text): write HOST:PORT, for example 127.0.0.1:8080 (port 0 picks a free port)")
        }
        return address
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `--state-dir`, shared by every command that talks to a running Gatehouse.
struct StateDirectoryOption: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "State directory (env GATEHOUSE_STATE_DIR, default ./.gatehouse).")
    var path: String?

    var url: URL {
        let chosen = path ?? ProcessInfo.processInfo.environment["GATEHOUSE_STATE_DIR"] ?? ".gatehouse"
        return URL(fileURLWithPath: chosen)
    }
}

/// Loads config or fails with every diagnostic, one per line, saying what did not happen.
func loadConfig(_ paths: [String], doing consequence: String = "nothing was started") throws -> ConfigSnapshot {
    do {
        return try ConfigLoader.load(paths: paths)
    } catch {
        throw CommandFailure("invalid configuration, \(consequence):\n\(error.description)")
    }
}

/// How `gatehouse up` writes its own log (the access log is separate: `--access-log`).
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    /// For a person: a short summary once it serves, then one line per event.
    case text
    /// One JSON object per line, for production log pipelines.
    case json
}
