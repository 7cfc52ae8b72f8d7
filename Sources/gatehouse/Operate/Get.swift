import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseGateway

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, yaml
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List applied resources of a kind; functions with their URL, state and instances; a function's revisions; the nodes.",
        discussion: """
            `-o yaml` prints the documents as applied; `-o json` prints functions' live status, or other kinds'
            stored records. Without -n, every namespace is listed. `get revisions NAME` lists a function's
            revisions with their share of traffic, tags and instances. `get nodes` lists the nodes that share the
            store (one on SQLite), Ready while they heartbeat.
            """)

    @Argument(help: "functions, virtualservices, authorizationpolicies, … (any kind or its short name), revisions, or nodes.")
    var kind: String

    @Argument(help: "Only this resource.")
    var name: String?

    @Option(name: .shortAndLong, help: "Only this namespace.")
    var namespace: String?

    @Option(name: .shortAndLong, help: "table, json or yaml.")
    var output: OutputFormat = .table

    @OptionGroup var connection: AdminConnectionOptions

    func validate() throws {
        if Self.nodeWords.contains(kind.lowercased()) {
            if output == .yaml { throw ValidationError("nodes print as a table or JSON (`-o json`)") }
            if namespace != nil { throw ValidationError("nodes have no namespace") }
            return
        }
        if Self.revisionWords.contains(kind.lowercased()) {
            if name == nil { throw ValidationError("name the function: `gatehouse get revisions NAME`") }
            if output == .yaml { throw ValidationError("revisions print as a table or JSON (`-o json`)") }
            return
        }
        if ResourceKinds.resolve(kind) == nil {
            throw ValidationError("unknown kind \"\(kind)\"; known kinds: \(ResourceKinds.known)")
        }
    }

    func run() async throws {
        let client = try connection.connect()
        if Self.nodeWords.contains(kind.lowercased()) { return try await printNodes(client: client) }
        if Self.revisionWords.contains(kind.lowercased()), let name {
            return try await printRevisions(of: name, client: client)
        }
        let resolved = ResourceKinds.resolve(kind)!
        var query = "kind=\(resolved.kind)"
        if let namespace { query += "&namespace=\(namespace.queryEscaped)" }
        if let name { query += "&name=\(name.queryEscaped)" }

        if resolved.kind == "Function", output != .yaml {
            let functions = try await client.get("/api/v1/functions?\(query)", as: [AdminWire.FunctionStatus].self)
            try requireFound(functions.isEmpty)
            if output == .json { return try printJSON(functions) }
            printTable(
                ["NAMESPACE", "NAME", "URL", "STATE", "READY", "REVISION"],
                functions.map { function in
                    [function.namespace, function.name, function.url, function.state,
                     "\(function.instances.count { $0.ready })/\(function.instances.count)", function.revision]
                })
            return
        }
        if Self.eventingKinds.contains(resolved.kind), output != .yaml {
            return try await printEventing(resolved.kind, query: query, client: client)
        }
        let resources = try await client.get("/api/v1/resources?\(query)", as: [AdminWire.Resource].self)
        try requireFound(resources.isEmpty)
        switch output {
        case .yaml:
            print(resources.map { $0.yaml.trimmingCharacters(in: .newlines).hasPrefix("---") ? $0.yaml : "---\n" + $0.yaml }
                .joined(separator: "\n"))
        case .json:
            try printJSON(resources)
        case .table:
            printTable(
                ["NAMESPACE", "NAME", "KIND", "GENERATION", "APPLIED", "FROM"],
                resources.map { [$0.namespace, $0.name, $0.kind, "\($0.generation)", age($0.appliedAt), $0.origin] })
        }
    }

    static let eventingKinds: Set<String> = ["Broker", "Trigger", "PingSource"]

    /// Knative's kinds with their status: `-o json` as `kubectl get -o json` prints them (one
    /// object when named, else a `List`).
    private func printEventing(_ kind: String, query: String, client: AdminClient) async throws {
        let data = try await client.get("/api/v1/eventing?\(query)")
        let objects = (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
        try requireFound(objects.isEmpty)
        if output == .json {
            let value: Any = name != nil && objects.count == 1 ? objects[0] : ["apiVersion": "v1", "kind": "List", "items": objects]
            let json = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: json, as: UTF8.self))
            return
        }
        func field(_ object: [String: Any], _ path: String...) -> String {
            var value: Any? = object
            for key in path { value = (value as? [String: Any])?[key] }
            return value.map { "\($0)" } ?? "-"
        }
        func ready(_ object: [String: Any]) -> String {
            let conditions = (object["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
            let condition = conditions.first { $0["type"] as? String == "Ready" }
            return (condition?["status"] as? String ?? "Unknown") + ((condition?["reason"] as? String).map { " (\($0))" } ?? "")
        }
        switch kind {
        case "Broker":
            printTable(["NAMESPACE", "NAME", "URL", "READY"], objects.map { [field($0, "metadata", "namespace"), field($0, "metadata", "name"), field($0, "status", "address", "url"), ready($0)] })
        case "Trigger":
            printTable(["NAMESPACE", "NAME", "BROKER", "SUBSCRIBER_URI", "READY"], objects.map {
                [field($0, "metadata", "namespace"), field($0, "metadata", "name"), field($0, "spec", "broker"), field($0, "status", "subscriberUri"), ready($0)]
            })
        default:
            printTable(["NAMESPACE", "NAME", "SCHEDULE", "SINK", "READY"], objects.map {
                [field($0, "metadata", "namespace"), field($0, "metadata", "name"), field($0, "spec", "schedule"), field($0, "status", "sinkUri"), ready($0)]
            })
        }
    }

    private func requireFound(_ empty: Bool) throws {
        guard empty else { return }
        if let name {
            throw CommandFailure("\(kind) \(namespace ?? FunctionSpec.defaultNamespace)/\(name) not found")
        }
        FileHandle.standardError.write(Data("no \(kind) found\n".utf8))
        throw ExitCode.success
    }
}

func printJSON(_ value: some Encodable) throws {
    let encoder = AdminWire.encoder
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Columns padded to their widest cell, kubectl-style.
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    for row in [header] + rows {
        let cells = row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 3, withPad: " ", startingAt: 0)
        }
        print(cells.joined())
    }
}

/// `45s`, `12m`, `3h`, `2d`: how long ago.
func age(_ date: Date) -> String {
    let seconds = max(0, Int(Date().timeIntervalSince(date)))
    switch seconds {
    case ..<120: return "\(seconds)s ago"
    case ..<7200: return "\(seconds / 60)m ago"
    case ..<172_800: return "\(seconds / 3600)h ago"
    default: return "\(seconds / 86400)d ago"
    }
}

extension String {
    var queryEscaped: String { addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["-", "_", "."])) ?? self }
}
