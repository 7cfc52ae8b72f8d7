import GatehouseCore

/// Finds the function a `Host` header names: `NAME.NAMESPACE.<domain>`, Knative's convention.
///
/// Built once per config snapshot; lookups are one dictionary probe. Hosts are compared without
/// their port and case-insensitively, as HTTP requires.
public struct HostRouter: Sendable {
    private let routes: [String: FunctionDestination]
    public let domain: String

    public init(functions: [FunctionSpec], domain: String, trustDomain: String = "cluster.local") {
        let domain = domain.lowercased()
        var routes: [String: FunctionDestination] = [:]
        for spec in functions {
            routes["\(spec.name).\(spec.namespace).\(domain)"] = FunctionDestination(spec: spec, trustDomain: trustDomain)
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
    /// Works on UTF-8 bytes: this runs for every request.
    static func hostWithoutPort(_ host: String) -> String {
        let bytes = host.utf8
        var end = bytes.endIndex
        if bytes.first == UInt8(ascii: "[") {
            if let close = bytes.firstIndex(of: UInt8(ascii: "]")) { end = bytes.index(after: close) }
        } else if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        if end > bytes.startIndex, bytes[bytes.index(before: end)] == UInt8(ascii: ".") {
            end = bytes.index(before: end)
        }
        return end == bytes.endIndex ? host : String(host[..<end])
    }
}
