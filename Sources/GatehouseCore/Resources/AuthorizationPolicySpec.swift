/// An Istio `AuthorizationPolicy` (`security.istio.io` v1 / v1beta1), decoded and checked.
///
/// Istio's semantics: a rule matches when any of its `from` sources, any of its `to` operations
/// and all of its `when` conditions match; a field's values are alternatives; a `not` field
/// excludes. A policy without rules matches nothing (`spec: {}` is "allow nothing"); `rules: [{}]`
/// matches everything.
public struct AuthorizationPolicySpec: Hashable, Sendable {
    public enum Action: String, Hashable, Sendable, CaseIterable {
        case allow = "ALLOW", deny = "DENY", audit = "AUDIT", custom = "CUSTOM"
    }

    public var namespace: String
    public var name: String
    /// `selector.matchLabels`; nil applies the policy to every function in its namespace (every
    /// function in the mesh when the namespace is the root namespace).
    public var selector: [String: String]?
    /// `targetRefs` names: functions in the policy's namespace (kind `Service` or `Function`).
    public var targetNames: [String]
    public var action: Action
    /// CUSTOM only: the `Mesh.extensionProviders` entry that decides.
    public var provider: String?
    public var rules: [Rule]
    /// `istio.io/dry-run: "true"`: evaluated and recorded, never enforced.
    public var dryRun: Bool
    public var source: SourceLocation?

    public init(
        namespace: String, name: String, selector: [String: String]? = nil, targetNames: [String] = [],
        action: Action = .allow, rules: [Rule] = [], dryRun: Bool = false, source: SourceLocation? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.selector = selector
        self.targetNames = targetNames
        self.action = action
        self.rules = rules
        self.dryRun = dryRun
        self.source = source
    }

    /// `namespace/name`, how decisions name a policy.
    public var reference: String { "\(namespace)/\(name)" }

    public struct Rule: Hashable, Sendable {
        public var from: [Source]
        public var to: [Operation]
        public var when: [Condition]

        public init(from: [Source] = [], to: [Operation] = [], when: [Condition] = []) {
            self.from = from
            self.to = to
            self.when = when
        }
    }

    /// A field and its `not` form: the value must match one of `values` (when any are given) and
    /// none of `notValues`.
    public struct Match: Hashable, Sendable {
        public var values: [String]
        public var notValues: [String]

        public init(_ values: [String] = [], not notValues: [String] = []) {
            self.values = values
            self.notValues = notValues
        }

        public var isEmpty: Bool { values.isEmpty && notValues.isEmpty }
    }

    public struct Source: Hashable, Sendable {
        public var principals = Match()
        public var requestPrincipals = Match()
        public var namespaces = Match()
        public var serviceAccounts = Match()
        public var ipBlocks = Match()
        public var remoteIpBlocks = Match()

        public init() {}
    }

    public struct Operation: Hashable, Sendable {
        public var hosts = Match()
        public var ports = Match()
        public var methods = Match()
        public var paths = Match()

        public init() {}
    }

    /// `when: [{key, values, notValues}]`.
    public struct Condition: Hashable, Sendable {
        public var key: String
        public var match: Match

        public init(key: String, match: Match) {
            self.key = key
            self.match = match
        }
    }

    /// The `when` keys Istio documents for HTTP; `request.headers[…]` and `request.auth.claims[…]`
    /// take a name in brackets. Plus one of Envoy's attributes, `connection.uri_san_peer_certificate`
    /// (the verified client certificate's URI SAN): the only way a policy sees a partner's
    /// certificate from another trust domain, which has no `source.principal` (see `PeerIdentity`).
    /// And Gatehouse's `request.auth.actors`: every agent of a delegated token's `act` chain.
    public static let conditionKeys = [
        "request.headers", "source.ip", "remote.ip", "source.namespace", "source.principal",
        "request.auth.principal", "request.auth.audiences", "request.auth.presenter", "request.auth.claims", "request.auth.actors",
        "destination.ip", "destination.port", "connection.sni", "connection.uri_san_peer_certificate",
    ]
}
