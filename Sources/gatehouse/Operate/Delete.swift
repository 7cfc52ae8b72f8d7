import ArgumentParser
import GatehouseConfig
import GatehouseCore
import GatehouseGateway

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete resources from the running Gatehouse: those in files, or one named KIND NAME.",
        discussion: "A deleted function's in-flight requests finish; new requests for it get 404 NR.")

    @Argument(help: "KIND NAME, e.g. `function hello` (or use -f).")
    var resource: [String] = []

    @Option(name: [.customShort("f"), .customLong("filename")], help: "Delete the resources these files (or - for standard input) define (repeatable).")
    var paths: [String] = []

    @Option(name: .shortAndLong, help: "Namespace of KIND NAME.")
    var namespace: String = FunctionSpec.defaultNamespace

    @OptionGroup var connection: AdminConnectionOptions

    func validate() throws {
        guard paths.isEmpty != resource.isEmpty, paths.isEmpty ? resource.count == 2 : true else {
            throw ValidationError("name what to delete: `delete KIND NAME` or `delete -f FILE`")
        }
        if !resource.isEmpty, ResourceKinds.resolve(resource[0]) == nil {
            throw ValidationError("unknown kind \"\(resource[0])\"; known kinds: \(ResourceKinds.known)")
        }
    }

    func run() async throws {
        let names: [AdminWire.ResourceName]
        if paths.isEmpty {
            names = [AdminWire.ResourceName(kind: resource[0], namespace: namespace, name: resource[1])]
        } else {
            let snapshot: ConfigSnapshot
            do {
                snapshot = try ConfigLoader.load(sources: try readSources(paths))
            } catch let error as ConfigError {
                throw CommandFailure("invalid configuration, nothing was deleted:\n\(error.description)")
            }
            names = snapshot.documents.map { AdminWire.ResourceName(kind: $0.key.kind, namespace: $0.key.namespace, name: $0.key.name) }
        }
        let report = try await connection.connect().post(
            "/api/v1/delete", AdminWire.DeleteRequest(resources: names), as: AdminWire.ChangeReport.self)
        printReport(report)
    }
}
