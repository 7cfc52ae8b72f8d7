import ArgumentParser
import Foundation
import GatehouseGateway

/// `gatehouse get nodes [NAME]`: the node registry, like `kubectl get nodes`.
extension Get {
    static let nodeWords: Set<String> = ["nodes", "node", "no"]

    func printNodes(client: AdminClient) async throws {
        let query = name.map { "?name=\($0.queryEscaped)" } ?? ""
        let nodes = try await client.get("/api/v1/nodes\(query)", as: [AdminWire.Node].self)
        if let name, nodes.isEmpty { throw CommandFailure("node \(name) not found") }
        switch output {
        case .json, .yaml:  // yaml is refused in `validate()`
            try printJSON(nodes)
        case .table:
            printTable(
                ["NAME", "STATE", "LAST HEARTBEAT", "STARTED", "INGRESS", "MESH", "ADMIN"],
                nodes.map { node in
                    [node.name, node.state, age(node.lastHeartbeat), age(node.startedAt),
                     node.addresses.ingress ?? "-", node.addresses.mesh ?? "-", node.addresses.admin ?? "-"]
                })
        }
    }
}
