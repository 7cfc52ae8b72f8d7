import GatehouseCore
import NIOHTTP1

/// A request asking to switch protocols (`Connection: upgrade` with `Upgrade: …`), which NIO's
/// parser — like llhttp under it — treats as the last HTTP message on the connection.
///
/// Gatehouse proxies no upgraded protocol yet, so each is refused the way Envoy refuses an upgrade
/// it has no filter for: 403 and a reason, and the connection closes. (WebSocket proxying is
/// tracked in docs/security.md.)
struct UpgradeRequest {
    let protocols: String

    /// Nil when the head is an ordinary request.
    init?(_ head: HTTPRequestHead) {
        let upgrade = head.headers["upgrade"]
        guard !upgrade.isEmpty,
              head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" })
        else { return nil }
        protocols = upgrade.joined(separator: ", ")
    }

    var refusal: GatehouseError {
        GatehouseError(.upgradeRefused, detail: "upgrade to \(protocols.prefix(64)) is not proxied", reason: "upgrade_not_supported")
    }
}
