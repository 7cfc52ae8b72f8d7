/// An Istio resource (`AuthorizationPolicy`, `VirtualService`, …) whose envelope has been checked.
///
/// Its spec is kept as it was written; the issue that gives each kind its meaning decodes it.
public struct IstioResource: Hashable, Sendable {
    public var apiVersion: String
    public var kind: String
    public var namespace: String
    public var name: String
    public var source: SourceLocation

    public init(apiVersion: String, kind: String, namespace: String, name: String, source: SourceLocation) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.source = source
    }

    /// Every Istio kind Gatehouse accepts, with the API versions Istio serves it under.
    public static let servedVersions: [String: Set<String>] = [
        "Gateway": networking,
        "VirtualService": networking,
        "DestinationRule": networking,
        "PeerAuthentication": ["security.istio.io/v1", "security.istio.io/v1beta1"],
        "RequestAuthentication": ["security.istio.io/v1", "security.istio.io/v1beta1"],
        "AuthorizationPolicy": ["security.istio.io/v1", "security.istio.io/v1beta1"],
        "Telemetry": ["telemetry.istio.io/v1", "telemetry.istio.io/v1alpha1"],
    ]

    private static let networking: Set<String> = [
        "networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
    ]
}
