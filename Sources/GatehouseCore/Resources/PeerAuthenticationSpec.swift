/// An Istio `PeerAuthentication` (`security.istio.io` v1 / v1beta1): whether a function accepts
/// plaintext callers, mutual TLS callers, or both.
///
/// In Gatehouse, plaintext callers arrive on the ingress listener and mutual TLS callers on the
/// mesh listener; "port" is the listener port a request arrived on.
public struct PeerAuthenticationSpec: Hashable, Sendable {
    public enum Mode: String, Hashable, Sendable, CaseIterable {
        /// Inherit from the parent: the namespace's policy, then the mesh's, then PERMISSIVE.
        case unset = "UNSET"
        /// Plaintext only.
        case disable = "DISABLE"
        /// Both.
        case permissive = "PERMISSIVE"
        /// Mutual TLS only.
        case strict = "STRICT"
    }

    public var namespace: String
    public var name: String
    /// `selector.matchLabels`; nil: the namespace's policy (the mesh's, in the root namespace).
    public var selector: [String: String]?
    public var mode: Mode
    /// `portLevelMtls`, only with a selector.
    public var portModes: [Int: Mode]
    public var source: SourceLocation?

    public init(
        namespace: String, name: String, selector: [String: String]? = nil, mode: Mode = .unset,
        portModes: [Int: Mode] = [:], source: SourceLocation? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.selector = selector
        self.mode = mode
        self.portModes = portModes
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }
}
