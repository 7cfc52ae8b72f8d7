/// A `gatehouse.dev/v1` `DelegationPolicy`: which agents (actors) may exchange a person's token for
/// one that lets them call the selected functions on that person's behalf (RFC 8693 token
/// exchange at Gatehouse's token endpoint). Without one that admits an exchange, it is refused.
/// Scoped as Istio's security policies: `selector.matchLabels` or `targetRefs` name the audiences
/// (functions) the actors may ask for; in the root namespace, mesh-wide.
public struct DelegationPolicySpec: Hashable, Sendable {
    public var namespace: String
    public var name: String
    /// `targetRefs` function names; with `selector` nil too, every function in the namespace.
    public var functions: [String]
    public var selector: [String: String]?
    /// Who may act: SPIFFE IDs (an agent with its SVID over mutual TLS) or `ISSUER/SUBJECT` of a
    /// client JWT; `*` globs at either end, as Istio's principals.
    public var actors: [String]
    /// For whom: the people (or workloads) whose token is exchanged, as Istio's
    /// `requestPrincipals` (`ISSUER/SUBJECT`, `*` globs); `["*"]` is anyone.
    public var subjects: [String]
    /// The longest `act` chain a token issued under this policy may carry (1: an agent acting for
    /// a person; 2: an agent calling another agent for them). Default 1.
    public var maxDepth: Int
    public var source: SourceLocation?

    public init(
        namespace: String, name: String, functions: [String] = [], selector: [String: String]? = nil,
        actors: [String] = [], subjects: [String] = [], maxDepth: Int = 1, source: SourceLocation? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.functions = functions
        self.selector = selector
        self.actors = actors
        self.subjects = subjects
        self.maxDepth = maxDepth
        self.source = source
    }

    /// `NAMESPACE/NAME`, as decisions and `explain` name it.
    public var reference: String { "\(namespace)/\(name)" }

    public func applies(to function: FunctionSpec, rootNamespace: String) -> Bool {
        WorkloadScope.applies(namespace: namespace, selector: selector, targetNames: functions, to: function, rootNamespace: rootNamespace)
    }
}
