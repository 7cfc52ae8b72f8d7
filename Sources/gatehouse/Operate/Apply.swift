import ArgumentParser
import Foundation
import GatehouseConfig
import GatehouseGateway

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply resources to the running Gatehouse: all of them, or none.",
        discussion: """
            Files are checked here first, then sent; the running config is replaced only when the result is valid
            as a whole. Resources are matched by kind, namespace and name: new ones are created, changed ones
            configured (a changed function starts new instances and drains the old), the rest left alone.
            """)

    @Option(name: [.customShort("f"), .customLong("filename")], help: "A YAML file or a directory of them (repeatable).")
    var paths: [String] = []

    @Flag(help: "Check and report what would change, without changing anything.")
    var dryRun = false

    @OptionGroup var connection: AdminConnectionOptions

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name what to apply with -f FILE or -f DIRECTORY") }
    }

    func run() async throws {
        let files = try readForSending(paths)
        let report = try await connection.connect().post(
            "/api/v1/apply", AdminWire.ApplyRequest(files: files, dryRun: dryRun), as: AdminWire.ChangeReport.self)
        printReport(report)
    }
}

/// Checks files locally (every problem, with file and line) and returns them under absolute names,
/// so relative commands resolve against the file's directory on the server, as with `up -f`.
func readForSending(_ paths: [String]) throws -> [AdminWire.ApplyRequest.File] {
    _ = try loadConfig(paths, doing: "nothing was applied")
    let sources: [(file: String, yaml: String)]
    do { sources = try ConfigLoader.read(paths: paths) } catch { throw CommandFailure(error.description) }
    return sources.map { source in
        AdminWire.ApplyRequest.File(name: URL(fileURLWithPath: source.file).standardizedFileURL.path, content: source.yaml)
    }
}

func printReport(_ report: AdminWire.ChangeReport) {
    for item in report.items {
        print("\(item.kind.lowercased()) \(item.namespace)/\(item.name) \(item.result)\(report.dryRun ? " (dry run)" : "")")
    }
    for notice in report.notices {
        FileHandle.standardError.write(Data("notice: \(notice)\n".utf8))
    }
}
