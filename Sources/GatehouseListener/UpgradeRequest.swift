import GatehouseCore
import NIOHTTP1

/// A request asking to switch protocols (`Connection: upgrade` with `Upgrade: …`), which NIO's
/// parser — like llhttp under it — treats as the last HTTP message on the connection.
///
/// WebSocket (`GET`, HTTP/1.1, `Upgrade: websocket`) goes through every stage like any request and,
/// once the function answers 101, becomes a byte tunnel (`ClientExchange.startTunnel`). Any other
/// upgrade is refused the way Envoy refuses one it has no filter for: 403 and a reason, and the
/// connection closes.
struct UpgradeRequest {
    let protocols: String
    let isWebSocket: Bool

    /// Nil when the head is an ordinary request.
    init?(_ head: HTTPRequestHead) {
        if head.method == .CONNECT {
            // A tunnel by another name: llhttp stops parsing after it too. Gatehouse proxies none.
            protocols = "CONNECT"
            isWebSocket = false
            return
        }
        let upgrade = head.headers["upgrade"]
        guard !upgrade.isEmpty,
              head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" })
        else { return nil }
        protocols = upgrade.joined(separator: ", ")
        isWebSocket = protocols.lowercased() == "websocket" && head.method == .GET && head.version == .http1_1
    }

    var refusal: GatehouseError {
        GatehouseError(.upgradeRefused, detail: "upgrade to \(protocols.prefix(64)) is not proxied", reason: "upgrade_not_supported")
    }
}
