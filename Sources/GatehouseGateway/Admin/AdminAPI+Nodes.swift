import GatehouseCore
import GatehouseStore
import Hummingbird

/// `GET /api/v1/nodes[?name=NAME]`: the node registry, each node's state judged by the store's clock.
extension AdminAPI {
    func nodeList(_ request: Request) async -> Response {
        guard let nodes else { return Self.json(.ok, [AdminWire.Node]()) }
        let name = request.uri.queryParameters["name"].map(String.init)
        do {
            let records = try await nodes.nodes().filter { name == nil || $0.name == name }
            return Self.json(.ok, records.map(Self.wire))
        } catch {
            return Self.error(.serviceUnavailable, code: "store_unavailable", error.description)
        }
    }

    static func wire(_ record: NodeRecord) -> AdminWire.Node {
        let addresses = record.addresses
        return AdminWire.Node(
            name: record.name,
            addresses: .init(ingress: addresses.ingress, mesh: addresses.mesh, admin: addresses.admin, adminMtls: addresses.adminMtls),
            state: record.state.rawValue, lastHeartbeat: record.lastHeartbeat, startedAt: record.startedAt,
            goneAfter: record.goneAfter.gatehouseDescription)
    }
}
