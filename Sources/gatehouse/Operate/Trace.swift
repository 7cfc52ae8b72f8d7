import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseTracing

struct Trace: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a request's trace: every hop through Gatehouse, its stages, attempts and cold starts, and where it failed.",
        discussion: """
            Gatehouse keeps the latest requests (and, apart from them, the latest failed ones) whether or not a
            collector is configured; sampling applies to export only.

              gatehouse trace REQUEST_ID|TRACE_ID     one trace as a tree
              gatehouse trace --errors                recent failed or refused requests
              gatehouse trace --slow 500ms            recent requests that took at least 500 ms
            """)

    @Argument(help: "A request id (the X-Request-Id every answer carries) or a W3C trace id.")
    var id: String?

    @Option(help: "List recent requests that took at least this long (e.g. 500ms, 2s).")
    var slow: String?

    @Flag(help: "List recent requests that failed or were refused.")
    var errors = false

    @Option(help: "At most this many requests in a list.")
    var limit: Int = 20

    @Option(name: .shortAndLong, help: "table or json.")
    var output: OutputFormat = .table

    @OptionGroup var connection: AdminConnectionOptions

    func validate() throws {
        if id != nil, slow != nil || errors { throw ValidationError("give an id, or --slow/--errors to list, not both") }
        if id == nil, slow == nil, !errors { throw ValidationError("give a request or trace id, or --slow DURATION or --errors to list recent ones") }
        if let slow, Duration(parsing: slow) == nil { throw ValidationError("--slow \(slow) is not a duration; write e.g. 500ms or 2s") }
        if output == .yaml { throw ValidationError("trace prints table or json") }
    }

    func run() async throws {
        let admin = try connection.connect()
        if let id {
            let report = try await admin.get("/api/v1/traces/\(id.queryEscaped)", as: TraceReport.self)
            if output == .json { return try printJSON(report) }
            print(TraceTree.render(report), terminator: "")
            return
        }
        var query = "limit=\(limit)"
        if let slow { query += "&slow=\(slow.queryEscaped)" }
        if errors { query += "&errors=true" }
        let summaries = try await admin.get("/api/v1/traces?\(query)", as: [TraceSummary].self)
        if output == .json { return try printJSON(summaries) }
        guard !summaries.isEmpty else {
            print(errors ? "no failed requests kept" : "no kept request took that long")
            return
        }
        printTable(
            ["WHEN", "REQUEST", "TRACE", "STATUS", "MS", "REQUEST LINE", "WHY"],
            summaries.map { summary in
                [summary.startTime, summary.requestId, summary.traceId, "\(summary.status)",
                 String(format: "%.1f", summary.durationMs), "\(summary.method) \(summary.host)\(summary.path)", summary.reason ?? ""]
            })
    }
}
