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

    @Option(name: [.customShort("f"), .customLong("filename")], help: "A YAML file, a directory of them, or - for standard input (repeatable).")
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
/// `-` reads standard input, named `<stdin>` in the current directory.
func readForSending(_ paths: [String]) throws -> [AdminWire.ApplyRequest.File] {
    let sources = try readSources(paths)
    do {
        _ = try ConfigLoader.load(sources: sources, whole: false)
    } catch {
        throw CommandFailure("invalid configuration, nothing was applied:\n\(error.description)")
    }
    return sources.map { AdminWire.ApplyRequest.File(name: $0.file, content: $0.yaml) }
}

/// The text of every path (files, directories of YAML, `-` for standard input), named by absolute path.
func readSources(_ paths: [String]) throws -> [(file: String, yaml: String)] {
    var sources: [(file: String, yaml: String)] = []
    let files = paths.filter { $0 != "-" }
    if !files.isEmpty {
        do {
            sources += try ConfigLoader.read(paths: files).map { (URL(fileURLWithPath: $0.file).standardizedFileURL.path, $0.yaml) }
        } catch {
            throw CommandFailure(error.description)
        }
    }
    if paths.contains("-") {
        let limit = 8 << 20
        let data = FileHandle.standardInput.readData(ofLength: limit + 1)
        guard data.count <= limit else { throw CommandFailure("standard input is larger than 8 MiB; split it into several applies") }
        guard let text = String(data: data, encoding: .utf8) else { throw CommandFailure("standard input is not UTF-8 text") }
        sources.append((FileManager.default.currentDirectoryPath + "/<stdin>", text))
    }
    return sources
}

func printReport(_ report: AdminWire.ChangeReport) {
    for item in report.items {
        print("\(item.kind.lowercased()) \(item.namespace)/\(item.name) \(item.result)\(report.dryRun ? " (dry run)" : "")")
    }
    for notice in report.notices {
        FileHandle.standardError.write(Data("notice: \(notice)\n".utf8))
    }
}
