import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseGateway

struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a function in detail: URL, revision, instances, last cold start, where it was applied from.")

    @Argument(help: "`function`.")
    var kind: String

    @Argument(help: "The function's name.")
    var name: String

    @Option(name: .shortAndLong, help: "The function's namespace.")
    var namespace: String = FunctionSpec.defaultNamespace

    @OptionGroup var connection: AdminConnectionOptions

    func validate() throws {
        guard ResourceKinds.resolve(kind)?.kind == "Function" else {
            throw ValidationError("describe works on functions: `gatehouse describe function NAME`")
        }
    }

    func run() async throws {
        let client = try connection.connect()
        let functions = try await client.get(
            "/api/v1/functions?namespace=\(namespace.queryEscaped)&name=\(name.queryEscaped)", as: [AdminWire.FunctionStatus].self)
        guard let function = functions.first else { throw CommandFailure("function \(namespace)/\(name) not found") }
        // The split is extra: without it (an older server, the store busy) the rest still shows.
        let revisions = (try? await client.get(
            "/api/v1/functions/\(namespace.queryEscaped)/\(name.queryEscaped)/revisions", as: [AdminWire.RevisionStatus].self)) ?? []
        var lines = [
            ("Name", function.name), ("Namespace", function.namespace), ("URL", function.url),
            ("Revision", "\(function.revision) (generation \(function.generation))"),
            ("Traffic", revisions.isEmpty ? "-" : revisions.filter { $0.percent > 0 || !$0.tags.isEmpty }.map { revision in
                "\(revision.name) \(revision.percent)%" + revision.tags.map { " (tag \($0.tag))" }.joined()
            }.joined(separator: ", ")),
            ("State", function.state),
            function.remote.map { ("Remote", "\($0.url) (TLS \($0.tls))") } ?? ("Command", function.command.joined(separator: " ")),
            ("Scaling", "min \(function.minInstances), max \(function.maxInstances), concurrency \(function.concurrency)"),
            ("Timeout", function.timeout),
        ]
        if let origin = function.origin, let at = function.appliedAt {
            lines.append(("Applied", "\(at.formatted(.iso8601)) by \(function.appliedBy ?? "?") from \(origin)"))
        }
        if let cold = function.lastColdStart {
            lines.append(("Last cold start", "\(String(format: "%.1f", cold.milliseconds)) ms at \(cold.at.formatted(.iso8601))"))
        } else {
            lines.append(("Last cold start", "none yet"))
        }
        lines.append(("Queue", "\(function.queueDepth) waiting"))
        for (label, value) in lines { print("\((label + ":").padding(toLength: 17, withPad: " ", startingAt: 0))\(value)") }
        guard function.remote == nil else { return }  // a remote endpoint has no instances here
        print("Instances:")
        if function.instances.isEmpty { print("  none (scaled to zero)") }
        for instance in function.instances {
            print("  #\(instance.id)  \(instance.revision ?? function.revision)  port \(instance.port)  \(instance.ready ? "ready" : "starting")  \(instance.inflight) in flight")
        }
    }
}
