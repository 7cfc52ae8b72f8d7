import ArgumentParser
import GatehouseConfig

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check configuration files without running anything.")

    @Option(name: [.customShort("f"), .customLong("filename")], help: "A YAML file or a directory of them (repeatable).")
    var paths: [String] = []

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name at least one file or directory with -f PATH") }
    }

    func run() throws {
        let snapshot = try loadConfig(paths)
        for notice in snapshot.notices { print("note: \(notice)") }
        print("ok: \(snapshot.functions.count) function(s), \(snapshot.istioResources.count) Istio resource(s)")
    }
}
