import GatehouseTelemetry

/// What `gatehouse up` says once it serves, for a person at a terminal: where each listener is,
/// where the state is, which functions answer at which URLs, and what is not enforced. With
/// `--log-format json` the same facts are structured log lines instead.
struct StartupSummary {
    var ingress: String
    var mesh: String?
    var admin: String
    var adminMtls: String?
    var stateDirectory: String
    /// This node's name, when it shares its store with others (PostgreSQL or a shared `--store` file).
    var node: String? = nil
    var tokenFile: String
    /// `namespace/name` and URL, in name order.
    var functions: [(name: String, url: String)]
    var accessLog: AccessLogDestination
    /// What cannot be enforced here (function isolation when not root).
    var notEnforced: [String]

    var text: String {
        var lines = ["gatehouse is up"]
        func row(_ label: String, _ value: String) { lines.append("  " + label.padding(toLength: 14, withPad: " ", startingAt: 0) + value) }
        row("ingress", ingress)
        if let mesh { row("mesh", mesh + "  (mutual TLS: callers present an SVID)") }
        row("admin", admin + "  (token in \(tokenFile))")
        if let adminMtls { row("admin mTLS", adminMtls) }
        row("state", stateDirectory)
        if let node { row("node", node + "  (gatehouse get nodes: the nodes sharing the store)") }
        switch accessLog {
        case .standardOutput: row("access log", "stdout, one JSON line per request")
        case .file(let path): row("access log", path)
        case .off: row("access log", "off")
        }
        if functions.isEmpty {
            row("functions", "none yet: every request gets 404 until one is applied (gatehouse apply -f FILE)")
        } else {
            let width = functions.map(\.name.count).max() ?? 0
            for (index, function) in functions.enumerated() {
                row(index == 0 ? "functions" : "", function.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + function.url)
            }
        }
        for (index, gap) in notEnforced.enumerated() { row(index == 0 ? "not enforced" : "", gap) }
        return lines.joined(separator: "\n") + "\n"
    }
}
