/// The kinds `apply`, `get` and `delete` know, and the names a user may type for them
/// (`function`, `functions`, `fn`, `vs`, … case-insensitive), kubectl-style.
public enum ResourceKinds {
    public struct Kind: Sendable, Hashable {
        public var group: String
        public var kind: String
        public var aliases: [String]
    }

    public static let all: [Kind] = [
        Kind(group: "gatehouse.dev", kind: "Function", aliases: ["function", "functions", "fn", "fns"]),
        Kind(group: "gatehouse.dev", kind: "Mesh", aliases: ["mesh", "meshes"]),
        Kind(group: "gatehouse.dev", kind: "RateLimitPolicy", aliases: ["ratelimitpolicy", "ratelimitpolicies", "rl"]),
        Kind(group: "gatehouse.dev", kind: "LoginPolicy", aliases: ["loginpolicy", "loginpolicies"]),
        Kind(group: "gatehouse.dev", kind: "DelegationPolicy", aliases: ["delegationpolicy", "delegationpolicies"]),
        Kind(group: "networking.istio.io", kind: "Gateway", aliases: ["gateway", "gateways", "gw"]),
        Kind(group: "networking.istio.io", kind: "VirtualService", aliases: ["virtualservice", "virtualservices", "vs"]),
        Kind(group: "networking.istio.io", kind: "DestinationRule", aliases: ["destinationrule", "destinationrules", "dr"]),
        Kind(group: "security.istio.io", kind: "PeerAuthentication", aliases: ["peerauthentication", "peerauthentications", "pa"]),
        Kind(group: "security.istio.io", kind: "RequestAuthentication", aliases: ["requestauthentication", "requestauthentications", "ra"]),
        Kind(group: "security.istio.io", kind: "AuthorizationPolicy", aliases: ["authorizationpolicy", "authorizationpolicies", "ap"]),
        Kind(group: "telemetry.istio.io", kind: "Telemetry", aliases: ["telemetry", "telemetries"]),
        Kind(group: "eventing.knative.dev", kind: "Broker", aliases: ["broker", "brokers"]),
        Kind(group: "eventing.knative.dev", kind: "Trigger", aliases: ["trigger", "triggers"]),
        Kind(group: "sources.knative.dev", kind: "PingSource", aliases: ["pingsource", "pingsources"]),
        Kind(group: "eventing.knative.dev", kind: "EventPolicy", aliases: ["eventpolicy", "eventpolicies"]),
    ]

    /// The kind a user's word names, or nil.
    public static func resolve(_ word: String) -> Kind? {
        let lowered = word.lowercased()
        return all.first { $0.aliases.contains(lowered) || $0.kind.lowercased() == lowered }
    }

    public static var known: String { all.map(\.kind).joined(separator: ", ") }
}
