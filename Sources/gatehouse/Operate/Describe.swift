import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseGateway

struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a function or a trigger in detail: a function's URL, revision, instances and last cold start; a trigger's filter, sink, delivery counts and breaker.")

    @Argument(help: "`function` or `trigger`.")
    var kind: String

    @Argument(help: "The function's name.")
    var name: String

    @Option(name: .shortAndLong, help: "The function's namespace.")
    var namespace: String = FunctionSpec.defaultNamespace

    @OptionGroup var connection: AdminConnectionOptions

    func validate() throws {
        guard ["Function", "Trigger"].contains(ResourceKinds.resolve(kind)?.kind) else {
            throw ValidationError("describe works on functions and triggers: `gatehouse describe function NAME`, `gatehouse describe trigger NAME`")
        }
    }

    func run() async throws {
        let client = try connection.connect()
        if ResourceKinds.resolve(kind)?.kind == "Trigger" { return try await describeTrigger(client) }
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

extension Describe {
    /// Filter, sink, identity, counts (`Delivered:`, `Retried:`, `Dead-lettered:`), the breaker and recent deliveries.
    func describeTrigger(_ client: AdminClient) async throws {
        let report = try await client.get("/api/v1/triggers/\(namespace.queryEscaped)/\(name.queryEscaped)", as: AdminWire.TriggerReport.self)
        var lines = [
            ("Name", report.name), ("Namespace", report.namespace),
            ("Broker", report.broker + (report.ready ? "" : " (does not exist: nothing is delivered)")),
            ("Filter", report.filter), ("Subscriber", report.subscriber), ("Dead-letter sink", report.deadLetterSink ?? "none"),
            ("Identity", report.identity),
            // Paused with no resume time: the pause is over and one delivery probes the subscriber (half-open).
            ("State", report.paused ? "paused by its circuit breaker after \(report.consecutiveFailures) failed deliveries"
                + (report.resumesAt.map { ", resumes at \($0)" } ?? ", one delivery probing whether the subscriber recovered") : "delivering"),
            ("In flight", "\(report.inflight) of \(report.concurrency)"),
            ("Delivered", String(report.delivered)), ("Retried", String(report.retried)), ("Dead-lettered", String(report.deadLettered)),
            ("Pending", String(report.pending) + (report.oldestPending.map { " (oldest accepted \($0))" } ?? "")),
        ]
        if report.recent.isEmpty { lines.append(("Recent", "no deliveries yet")) }
        for (label, value) in lines { print("\((label + ":").padding(toLength: 18, withPad: " ", startingAt: 0))\(value)") }
        guard !report.recent.isEmpty else { return }
        print("Recent deliveries:")
        for outcome in report.recent {
            print("  \(outcome.at)  \(outcome.result)  \(outcome.status.map(String.init) ?? "-")  \(outcome.eventType)  \(outcome.eventId)" + (outcome.reason.map { "  (\($0))" } ?? ""))
        }
    }
}
