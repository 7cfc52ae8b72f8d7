import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseGateway
import GatehouseStore

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show who applied or deleted what, when, and from which file, newest first.")

    @Argument(help: "KIND NAME to show one resource's history (optional).")
    var resource: [String] = []

    @Option(name: .shortAndLong, help: "Only this namespace.")
    var namespace: String?

    @Flag(help: "Print each change's diff.")
    var diff = false

    @Option(help: "At most this many entries.")
    var limit: Int = 100

    @Option(name: .shortAndLong, help: "table or json.")
    var output: OutputFormat = .table

    @OptionGroup var connection: AdminConnectionOptions

    func validate() throws {
        guard resource.count <= 2 else { throw ValidationError("write `history`, `history KIND` or `history KIND NAME`") }
        if let kind = resource.first, ResourceKinds.resolve(kind) == nil {
            throw ValidationError("unknown kind \"\(kind)\"; known kinds: \(ResourceKinds.known)")
        }
        if output == .yaml { throw ValidationError("history prints table or json") }
    }

    func run() async throws {
        var query = "limit=\(limit)"
        if let kind = resource.first { query += "&kind=\(ResourceKinds.resolve(kind)!.kind)" }
        if resource.count == 2 { query += "&name=\(resource[1].queryEscaped)" }
        if let namespace { query += "&namespace=\(namespace.queryEscaped)" }
        let entries = try await connection.connect().get("/api/v1/history?\(query)", as: [HistoryEntry].self)
        if output == .json { return try printJSON(entries) }
        guard !entries.isEmpty else {
            print("no changes recorded")
            return
        }
        if !diff {
            printTable(
                ["#", "WHEN", "ACTOR", "CHANGE", "RESOURCE", "GEN", "FROM"],
                entries.map { ["\($0.id)", $0.at.formatted(.iso8601), $0.actor, $0.operation.rawValue,
                               "\($0.kind) \($0.namespace)/\($0.name)", "\($0.generation)", $0.origin] })
            return
        }
        for entry in entries {
            print("#\(entry.id) \(entry.at.formatted(.iso8601)) \(entry.actor): \(entry.operation.rawValue) \(entry.kind) \(entry.namespace)/\(entry.name) (generation \(entry.generation), from \(entry.origin))")
            print(entry.diff.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" }.joined(separator: "\n"))
        }
    }
}
