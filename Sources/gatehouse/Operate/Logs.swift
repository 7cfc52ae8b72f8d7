import ArgumentParser
import Foundation
import GatehouseCore

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what a function's instances wrote to stdout and stderr (the last 1000 lines are kept).")

    @Argument(help: "The function's name.")
    var name: String

    @Option(name: .shortAndLong, help: "The function's namespace.")
    var namespace: String = FunctionSpec.defaultNamespace

    @Flag(name: .shortAndLong, help: "Keep printing new lines until interrupted.")
    var follow = false

    @Option(help: "Only lines newer than this, e.g. 5m or 30s.")
    var since: String?

    @OptionGroup var connection: AdminConnectionOptions

    func validate() throws {
        if let since, Duration(parsing: since) == nil {
            throw ValidationError("--since \(since): write a duration such as 5m or 30s")
        }
    }

    func run() async throws {
        var path = "/api/v1/functions/\(namespace.queryEscaped)/\(name.queryEscaped)/logs?follow=\(follow)"
        if let since { path += "&since=\(since.queryEscaped)" }
        try await connection.connect().stream(path) { chunk in
            FileHandle.standardOutput.write(Data(chunk.readableBytesView))
        }
    }
}
