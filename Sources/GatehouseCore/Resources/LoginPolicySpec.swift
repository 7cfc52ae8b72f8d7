/// A `gatehouse.dev/v1` `LoginPolicy`: the functions whose callers must be a logged-in person.
/// A browser without a session is sent to the OIDC provider `provider` names
/// (`Mesh.spec.extensionProviders[].oidc`) and back; an API client gets 401. Scoped as Istio's
/// security policies: `selector.matchLabels` or `targetRefs`, in the root namespace mesh-wide.
public struct LoginPolicySpec: Hashable, Sendable {
    public var namespace: String
    public var name: String
    /// `targetRefs` function names; with `selector` nil too, every function in the namespace.
    public var functions: [String]
    public var selector: [String: String]?
    /// The `extensionProviders` entry (an `oidc` one) people log in with.
    public var provider: String
    /// How long a session lasts from login, whatever the provider's tokens say (default 8 h).
    public var sessionLifetime: Duration
    public var source: SourceLocation?

    public init(
        namespace: String, name: String, functions: [String] = [], selector: [String: String]? = nil, provider: String = "",
        sessionLifetime: Duration = .seconds(8 * 3600), source: SourceLocation? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.functions = functions
        self.selector = selector
        self.provider = provider
        self.sessionLifetime = sessionLifetime
        self.source = source
    }

    /// `NAMESPACE/NAME`, as decisions and `explain` name it.
    public var reference: String { "\(namespace)/\(name)" }

    public func applies(to function: FunctionSpec, rootNamespace: String) -> Bool {
        WorkloadScope.applies(namespace: namespace, selector: selector, targetNames: functions, to: function, rootNamespace: rootNamespace)
    }
}
