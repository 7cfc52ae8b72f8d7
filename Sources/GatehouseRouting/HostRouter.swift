import GatehouseCore

/// Finds the function a `Host` header names: `NAME.NAMESPACE.<domain>`, Knative's convention.
///
/// Built once per config snapshot; lookups are one dictionary probe. Hosts are compared without
/// their port and case-insensitively, as HTTP requires.
public struct HostRouter: Sendable {
    private let routes: [String: FunctionDestination]
    public let domain: String

    public init(functions: [FunctionSpec], domain: String) {
        let domain = domain.lowercased()
        var routes: [String: FunctionDestination] = [:]
        for spec in functions {
            routes["\(spec.name).\(spec.namespace).\(domain)"] = FunctionDestination(spec: spec)
        }
        self.routes = routes
        self.domain = domain
    }

    public func destination(forHost host: String) -> FunctionDestination? {
        let name = Self.hostWithoutPort(host)
        if let exact = routes[name] { return exact }
        // Lowercasing allocates, so only pay for it when the exact probe missed.
        return routes[name.lowercased()]
    }

    /// The URL a function is reached at on a given ingress port.
    public static func url(for spec: FunctionSpec, domain: String, port: Int) -> String {
        "http://\(spec.name).\(spec.namespace).\(domain)\(port == 80 ? "" : ":\(port)")/"
    }

    /// `host:port` → `host`; bracketed IPv6 literals keep their brackets; a trailing dot is dropped.
    static func hostWithoutPort(_ host: String) -> String {
        var text = Substring(host)
        if text.hasPrefix("[") {
            if let close = text.firstIndex(of: "]") { text = text[...close] }
        } else if let colon = text.lastIndex(of: ":") {
            text = text[..<colon]
        }
        if text.hasSuffix(".") { text = text.dropLast() }
        return String(text)
    }
}
