import GatehouseCore

/// Finds the function a `Host` header names: `NAME.NAMESPACE.<domain>`, Knative's convention, split
/// among its revisions by `traffic`; a tagged revision also answers at `TAG-NAME.NAMESPACE.<domain>`.
///
/// Built once per config snapshot; lookups are one dictionary probe. Hosts are compared without
/// their port and case-insensitively, as HTTP requires.
public struct HostRouter: Sendable {
    private let routes: [String: TrafficSplit]
    public let domain: String
    public let targets: RevisionTargets

    public init(
        functions: [FunctionSpec], routing: RevisionRouting = RevisionRouting(), domain: String, trustDomain: String = "cluster.local",
        telemetry: TelemetryPolicies = .none
    ) {
        let domain = domain.lowercased()
        let targets = RevisionTargets(functions: functions, routing: routing, trustDomain: trustDomain, telemetry: telemetry)
        var routes: [String: TrafficSplit] = [:]
        for spec in functions {
            routes[Self.host(spec.name, spec.namespace, domain)] = targets.splits[spec.key]
            for (tag, destination) in targets.tagged[spec.key] ?? [:] {
                routes[Self.host("\(tag)-\(spec.name)", spec.namespace, domain)] = TrafficSplit(destination)
            }
        }
        self.routes = routes
        self.domain = domain
        self.targets = targets
    }

    /// The revision a request for `host` goes to (drawn by the function's traffic split).
    public func destination(forHost host: String) -> FunctionDestination? {
        split(forHost: host)?.pick()
    }

    public func split(forHost host: String) -> TrafficSplit? {
        let name = Self.hostWithoutPort(host)
        if let exact = routes[name] { return exact }
        // Lowercasing allocates, so only pay for it when the exact probe missed.
        return routes[name.lowercased()]
    }

    /// The URL a function is reached at on a given ingress port (with a tag: its tagged revision's).
    public static func url(for spec: FunctionSpec, tag: String? = nil, domain: String, port: Int) -> String {
        "http://\(host(tag.map { "\($0)-\(spec.name)" } ?? spec.name, spec.namespace, domain))\(port == 80 ? "" : ":\(port)")/"
    }

    private static func host(_ name: String, _ namespace: String, _ domain: String) -> String {
        "\(name).\(namespace).\(domain)"
    }

    /// `host:port` → `host`; bracketed IPv6 literals keep their brackets; a trailing dot is dropped.
    /// Works on UTF-8 bytes: this runs for every request.
    static func hostWithoutPort(_ host: String) -> String {
        RequestRecord.withoutPort(host)
    }
}
