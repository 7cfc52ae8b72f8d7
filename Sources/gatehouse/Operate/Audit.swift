import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTelemetry

/// `gatehouse audit …`: the tamper-evident audit log (docs/reference/audit.md).
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show, export or verify the audit log: denials, refused credentials, admin changes, CA events, starts and stops.",
        discussion: """
            Reads the running Gatehouse's admin API, or with --offline (or when none runs on the state
            directory) STATE_DIR/audit.db directly, read only.
              gatehouse audit --since 1h --decision deny
              gatehouse audit export --since 24h > audit.jsonl
              gatehouse audit verify --state-dir /var/lib/gatehouse --offline
              gatehouse audit checkpoint > /elsewhere/audit-anchor.json
              gatehouse audit verify --bundle /elsewhere/bundle.pem --anchor /elsewhere/audit-anchor.json
            """,
        subcommands: [List.self, Export.self, Verify.self, Checkpoint.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Print audit records, oldest first (the default).")

        @OptionGroup var filter: AuditFilterOptions

        @Option(help: "At most this many records: the newest that match.")
        var limit = 100

        @Option(name: .shortAndLong, help: "table or json.")
        var output: OutputFormat = .table

        @Flag(name: .shortAndLong, help: "Keep printing new records until interrupted.")
        var follow = false

        @OptionGroup var source: AuditSourceOptions

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit \(limit): write a positive number") }
            if output == .yaml { throw ValidationError("audit prints table or json") }
            if follow, output == .json { throw ValidationError("--follow prints a table; for JSON lines use `gatehouse audit export`") }
        }

        func run() async throws {
            let opened = try source.open()
            var query = try filter.query()
            query.limit = limit
            let records = try await source.records(opened, query)
            if output == .json { return try printJSON(records) }
            if records.isEmpty, !follow { print("no audit records match") }
            if !records.isEmpty { AuditTable.print(records, header: true) }
            guard follow else { return }
            var last = records.last?.event.seq ?? 0
            var header = records.isEmpty
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                query.after = last
                query.limit = 1000
                let more = try await source.records(opened, query)
                guard !more.isEmpty else { continue }
                AuditTable.print(more, header: header)
                header = false
                last = more.last?.event.seq ?? last
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every matching record as one JSON line, oldest first, for a SIEM (with hash and previousHash).")

        @OptionGroup var filter: AuditFilterOptions

        @OptionGroup var source: AuditSourceOptions

        func run() async throws {
            let opened = try source.open()
            var query = try filter.query()
            query.after = 0
            query.limit = 10_000
            while true {
                let page = try await source.records(opened, query)
                for record in page {
                    FileHandle.standardOutput.write(try AuditCoding.encoder.encode(record) + Data("\n".utf8))
                }
                guard page.count == query.limit, let last = page.last?.event.seq else { return }
                query.after = last
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the hash chain and every checkpoint's signature; exit 1 naming the first record changed, removed or inserted.",
            discussion: """
                Cutting off the end of the chain together with its last checkpoints cannot be seen from the
                file alone. Keep the latest checkpoint elsewhere (gatehouse audit checkpoint > FILE) and pass
                it with --anchor FILE: verify then fails if the chain no longer reaches it. With --bundle or
                --anchor, verify reads STATE_DIR/audit.db itself (read only), never the running Gatehouse.
                """)

        @Option(name: .shortAndLong, help: "table (a sentence) or json.")
        var output: OutputFormat = .table

        @Option(help: "A checkpoint kept outside the state directory (gatehouse audit checkpoint): the chain must still reach it.")
        var anchor: String?

        @OptionGroup var source: AuditSourceOptions

        func run() async throws {
            let outside = try anchor.map { file -> AuditCheckpoint in
                do { return try AuditCoding.decoder.decode(AuditCheckpoint.self, from: Data(contentsOf: URL(fileURLWithPath: file))) } catch {
                    throw CommandFailure("--anchor \(file): not a checkpoint from gatehouse audit checkpoint (\(error))")
                }
            }
            let result = try await source.verify(try source.open(local: anchor != nil), outside: outside)
            if output == .json { try printJSON(result) } else { print(result.summary) }
            if !result.ok { throw ExitCode(1) }
        }
    }
}

/// The filters `audit` and `audit export` share.
struct AuditFilterOptions: ParsableArguments {
    @Option(help: "Only records since this long ago (5m, 24h) or this time (2026-12-06T10:00:00Z).")
    var since: String?

    @Option(help: "Only records until this long ago or this time.")
    var until: String?

    @Option(help: "Only records about this principal: a SPIFFE ID (with or without spiffe://) or a JWT's iss/sub.")
    var principal: String?

    @Option(help: "Only records about this function: NAME (namespace default) or NAMESPACE/NAME.")
    var function: String?

    @Option(help: "Only allow or deny.")
    var decision: String?

    @Option(help: "Only this action: a policy's (ALLOW, DENY, AUDIT, CUSTOM), or apply, delete, create, rotate, issue.")
    var action: String?

    @Option(help: "Only this kind, e.g. request.denied, admin.changed, ca.svid_issued.")
    var kind: String?

    func query() throws -> AuditQuery {
        if let decision, !["allow", "deny"].contains(decision.lowercased()) {
            throw ValidationError("--decision \(decision): write allow or deny")
        }
        return AuditQuery(
            since: try since.map { try Self.time($0, flag: "--since") }, until: try until.map { try Self.time($0, flag: "--until") },
            principal: principal, function: function.map { $0.contains("/") ? $0 : "\(FunctionSpec.defaultNamespace)/\($0)" },
            decision: decision?.lowercased(), action: action, kind: kind)
    }

    static func time(_ text: String, flag: String) throws -> Date {
        if let duration = Duration(parsing: text), duration >= .zero {
            return Date().addingTimeInterval(-Double(duration.components.seconds))
        }
        guard let date = AuditCoding.date(text) else {
            throw ValidationError("\(flag) \(text): write a duration such as 5m or 24h, or a time such as 2026-12-06T10:00:00Z")
        }
        return date
    }
}

/// One line per record: who, about what, decided how.
enum AuditTable {
    static func print(_ records: [AuditRecordView], header: Bool) {
        let rows = records.map { view -> [String] in
            let event = view.event
            return ["\(event.seq ?? 0)", AuditCoding.timestamp(event.at), event.kind.rawValue, who(event), event.function ?? "-",
                    [event.decision, event.action].compactMap { $0 }.joined(separator: " ").ifEmpty("-"), event.policy ?? "-", what(event)]
        }
        let all = header ? [["SEQ", "TIME", "KIND", "WHO", "FUNCTION", "DECISION", "POLICY", "WHAT"]] + rows : rows
        let widths = (0..<8).map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            Swift.print(row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            }.joined())
        }
    }

    static func who(_ event: AuditEvent) -> String {
        // A person through agents: `alice via bot ← planner` (the current agent first).
        if let person = event.requestPrincipal, let actors = event.actors, !actors.isEmpty {
            return "\(person) via \(actors.joined(separator: " ← "))"
        }
        if let principal = event.sourcePrincipal ?? event.requestPrincipal { return principal }
        if let actor = event.actor { return "\(actor) (\(event.credential ?? "?"))" }
        return event.sourceAddress ?? event.credential ?? "-"
    }

    static func what(_ event: AuditEvent) -> String {
        if let changes = event.changes {
            return changes.map { "\($0.result) \($0.kind) \($0.namespace)/\($0.name) (generation \($0.generation))" }.joined(separator: ", ")
        }
        if let id = event.spiffeId { return "\(id) until \(event.notAfter.map(AuditCoding.timestamp) ?? "?")" }
        if let requestId = event.requestId {
            return "\(event.method ?? "") \(event.host ?? "")\(event.path ?? "") request \(requestId)\(event.reason.map { ": \($0)" } ?? "")"
        }
        if let count = event.count { return "\(count) record(s)\(event.detail.map { ": \($0)" } ?? "")" }
        return event.detail ?? event.reason ?? "-"
    }
}

extension String {
    fileprivate func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
