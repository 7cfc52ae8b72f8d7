import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseGateway

/// `gatehouse get revisions NAME`: Knative's `kn revision list` for one function.
extension Get {
    static let revisionWords: Set<String> = ["revisions", "revision", "rev"]

    func printRevisions(of function: String, client: AdminClient) async throws {
        let namespace = namespace ?? FunctionSpec.defaultNamespace
        let revisions = try await client.get(
            "/api/v1/functions/\(namespace.queryEscaped)/\(function.queryEscaped)/revisions", as: [AdminWire.RevisionStatus].self)
        switch output {
        case .json, .yaml:  // yaml is refused in `validate()`
            try printJSON(revisions)
        case .table:
            printTable(
                ["NAME", "TRAFFIC", "TAGS", "SUBSETS", "READY", "CREATED"],
                revisions.reversed().map { revision in
                    [revision.name + (revision.latest ? " (latest)" : ""),
                     "\(revision.percent)%",
                     revision.tags.isEmpty ? "-" : revision.tags.map(\.tag).joined(separator: ","),
                     revision.subsets.isEmpty ? "-" : revision.subsets.joined(separator: ","),
                     revision.serving ? "\(revision.ready)/\(revision.instances)" : "stopped",
                     revision.createdAt.map(age) ?? "-"]
                })
            for revision in revisions where !revision.tags.isEmpty {
                for tag in revision.tags { print("tag \(tag.tag): \(tag.url) → \(revision.name)") }
            }
        }
    }
}
