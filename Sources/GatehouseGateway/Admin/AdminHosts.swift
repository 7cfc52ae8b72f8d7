import Foundation

/// The names an admin listener answers to: `localhost`, `127.0.0.1`, `[::1]`, the address it was
/// bound to (unless a wildcard), the address a connection arrived on, and `Mesh`
/// `spec.listeners.adminHosts`; a port, when given, must be the listener's.
///
/// Why: DNS rebinding. A web page can make a browser on this machine resolve the page's own name
/// to 127.0.0.1 and then call `/metrics` or the admin API as a same-origin request; the only
/// trace of the attack is the `Host` header, which still names the page's domain.
struct AdminHosts: Sendable, Hashable {
    let names: Set<String>

    init(boundHost: String, configured: [String]) {
        var names: Set<String> = ["localhost", "127.0.0.1", "[::1]"]
        if let bound = Self.literal(boundHost), !["0.0.0.0", "[::]"].contains(bound) { names.insert(bound) }
        for name in configured { if let name = Self.literal(name) { names.insert(name) } }
        self.names = names
    }

    /// Whether `authority` (a `Host` header) names this listener. `port` is the one bound,
    /// `localAddress` the address the connection arrived on (a wildcard listener's own address).
    func accepts(_ authority: String, port: Int?, localAddress: String?) -> Bool {
        guard let (host, given) = Self.split(authority) else { return false }
        if let given, let port, given != port { return false }
        return names.contains(host) || host == localAddress.flatMap(Self.literal)
    }

    /// `Host` as `host` and port; nil when it is not a host (an IPv6 address must be bracketed).
    static func split(_ authority: String) -> (host: String, port: Int?)? {
        var host = Substring(authority.lowercased()), port: Int?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[...close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = host.firstIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        // One trailing dot names the same host (`localhost.`).
        if host.hasSuffix("."), host.count > 1 { host = host.dropLast() }
        guard !host.isEmpty else { return nil }
        return (String(host), port)
    }

    /// A name or address as it appears in `Host`: lowercase, IPv6 in brackets.
    static func literal(_ name: String) -> String? {
        let lowered = name.lowercased()
        guard !lowered.isEmpty else { return nil }
        if lowered.contains(":"), !lowered.hasPrefix("[") { return "[\(lowered)]" }
        return lowered.hasSuffix(".") ? String(lowered.dropLast()) : lowered
    }
}
