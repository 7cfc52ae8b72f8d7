import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseGateway

/// `gatehouse events send|dead-letters`: publish a CloudEvent to a Broker, list what gave up.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Publish events to a Broker and read its dead letters.",
        subcommands: [Send.self, DeadLetters.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish one CloudEvent to a Broker, through the same stages as any publisher (as an anonymous ingress caller).")

        @Option(help: "The Broker: NAME or NAMESPACE/NAME.")
        var broker: String
        @Option(help: "The event's type.")
        var type: String
        @Option(help: "The event's source (default gatehouse/cli).")
        var source = "gatehouse/cli"
        @Option(help: "The event's id (default a new UUID).")
        var id: String?
        @Option(help: "The event's data.")
        var data: String?
        @Option(name: .customLong("content-type"), help: "The data's content type (default application/json).")
        var contentType = "application/json"
        @Option(name: .customLong("extension"), help: "An extension attribute, NAME=VALUE (repeatable).")
        var extensions: [String] = []
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let parts = broker.split(separator: "/", maxSplits: 1).map(String.init)
            let (namespace, name) = parts.count == 2 ? (parts[0], parts[1]) : (FunctionSpec.defaultNamespace, broker)
            var headers = [["ce-specversion", "1.0"], ["ce-type", type], ["ce-source", source], ["ce-id", id ?? UUID().uuidString.lowercased()]]
            for pair in extensions {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { throw ValidationError("--extension takes NAME=VALUE, not \(pair)") }
                headers.append(["ce-" + kv[0].lowercased(), kv[1]])
            }
            if data != nil { headers.append(["content-type", contentType]) }
            let client = try connection.connect()
            let response = try await client.post(
                "/api/v1/invoke",
                AdminWire.InvokeRequest(
                    host: "broker-ingress.knative-eventing.svc.cluster.local", method: "POST", path: "/\(namespace)/\(name)", headers: headers,
                    body: Data((data ?? "").utf8).base64EncodedString()),
                as: AdminWire.InvokeResponse.self)
            guard response.status == 202 else {
                let body = Data(base64Encoded: response.body).map { String(decoding: $0, as: UTF8.self) } ?? ""
                throw CommandFailure("the Broker answered \(response.status): \(body.trimmingCharacters(in: .whitespacesAndNewlines)) (request \(response.requestId))")
            }
            print("accepted by Broker \(namespace)/\(name) (request \(response.requestId))")
        }
    }

    struct DeadLetters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dead-letters", abstract: "Events whose delivery gave up, newest first, with why.")

        @Option(help: "Only this Broker: NAME or NAMESPACE/NAME.")
        var broker: String?
        @Option(help: "At most this many (default 50).")
        var limit = 50
        @Option(name: .shortAndLong, help: "table or json.")
        var output: OutputFormat = .table
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            var query = "limit=\(limit)"
            if let broker { query += "&broker=\(broker.queryEscaped)" }
            let letters = try await connection.connect().get("/api/v1/dead-letters?\(query)", as: [AdminWire.DeadLetter].self)
            if output == .json { return try printJSON(letters) }
            guard !letters.isEmpty else {
                FileHandle.standardError.write(Data("no dead letters\n".utf8))
                return
            }
            printTable(
                ["AT", "TRIGGER", "EVENT", "TYPE", "STATUS", "TO SINK", "REASON"],
                letters.map { [$0.at, $0.trigger, $0.eventId, $0.eventType, $0.status.map(String.init) ?? "-", $0.sentToSink ? "yes" : "no", $0.reason] })
        }
    }
}

/// `gatehouse calls get ID`: an async call's state and, once done, its response.
struct CallsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calls", abstract: "Read the results of calls made with `Prefer: respond-async`.", subcommands: [Get.self])

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An async call's state; once done, its status, headers and body.")

        @Argument(help: "The call's id (the Gatehouse-Call-Id of its 202).")
        var id: String
        @Option(name: .shortAndLong, help: "table or json.")
        var output: OutputFormat = .table
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let report = try await connection.connect().get("/api/v1/calls/\(id.queryEscaped)", as: AdminWire.AsyncCallReport.self)
            if output == .json { return try printJSON(report) }
            print("State:   \(report.state)")
            guard report.state == "done" else { return }
            print("Status:  \(report.status.map(String.init) ?? "-")")
            if let completedAt = report.completedAt { print("Done at: \(completedAt)") }
            for header in report.headers ?? [] where header.count == 2 { print("\(header[0]): \(header[1])") }
            if let body = report.body.flatMap({ Data(base64Encoded: $0) }), !body.isEmpty {
                print("")
                FileHandle.standardOutput.write(body)
            }
        }
    }
}
