/// The DelegationPolicies of one config snapshot, indexed by the function each applies to: pure,
/// built once per snapshot, asked once per token exchange.
///
/// An exchange is allowed when any policy that applies to the audience lists the actor and the
/// subject (Istio principal patterns: `*`, `prefix*`, `*suffix`, exact) and the `act` chain is no
/// longer than its `maxDepth`. Without an applicable policy nothing is allowed: delegation is
/// opt-in per audience, never a default.
public struct DelegationRules: Sendable {
    private let policies: [DelegationPolicySpec]
    private let rootNamespace: String
    /// The applicable policies of every function known when the rules were built.
    private let byFunction: [FunctionKey: [DelegationPolicySpec]]

    public init(policies: [DelegationPolicySpec], functions: [FunctionSpec], rootNamespace: String) {
        // Sorted, so the policy an allowed decision names does not depend on document order.
        let sorted = policies.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        self.policies = sorted
        self.rootNamespace = rootNamespace
        var byFunction: [FunctionKey: [DelegationPolicySpec]] = [:]
        for function in functions {
            byFunction[function.key] = sorted.filter { $0.applies(to: function, rootNamespace: rootNamespace) }
        }
        self.byFunction = byFunction
    }

    /// The policies that apply to `function`, by `NAMESPACE/NAME`.
    public func policies(for function: FunctionSpec) -> [DelegationPolicySpec] {
        byFunction[function.key] ?? policies.filter { $0.applies(to: function, rootNamespace: rootNamespace) }
    }

    /// - Parameters:
    ///   - audience: the function the issued token would be for.
    ///   - actor: who asks: the SPIFFE ID of its SVID (`spiffe://…`) or `ISSUER/SUBJECT` of its JWT.
    ///   - subject: for whom: `ISSUER/SUBJECT` of the subject token (as Istio's `request.auth.principal`).
    ///   - depth: the length of the `act` chain the issued token would carry (1: the actor acts
    ///     directly for the subject; 2: it acts for an agent acting for the subject).
    public func decide(audience: FunctionSpec, actor: String, subject: String, depth: Int) -> DelegationDecision {
        let applicable = policies(for: audience)
        guard !applicable.isEmpty else {
            return .refused(
                reason: DelegationDecision.noPolicy,
                detail: "no DelegationPolicy applies to function \(audience.key): no exchange is allowed for it")
        }
        // The furthest any policy got, so the refusal names the check that failed last.
        var furthest = Progress.actorNotListed
        var blocking: [DelegationPolicySpec] = []
        for policy in applicable {
            let progress = Progress(of: policy, actor: actor, subject: subject, depth: depth)
            if progress == .admitted { return .allowed(policy: policy.reference) }
            if progress > furthest {
                furthest = progress
                blocking = []
            }
            if progress == furthest { blocking.append(policy) }
        }
        let names = (blocking.count == 1 ? "DelegationPolicy " : "DelegationPolicies ")
            + blocking.map(\.reference).joined(separator: ", ")
        switch furthest {
        case .actorNotListed:
            return .refused(
                reason: DelegationDecision.actorNotAllowed,
                detail: "actor \(actor) is not in the `actors` of \(names), which apply to function \(audience.key)")
        case .subjectNotListed:
            return .refused(
                reason: DelegationDecision.subjectNotAllowed,
                detail: "actor \(actor) is listed by \(names), but subject \(subject) is not in its `subjects`")
        case .tooDeep, .admitted:
            let deepest = blocking.map(\.maxDepth).max() ?? 1
            return .refused(
                reason: DelegationDecision.tooDeep,
                detail: "actor \(actor) may act for \(subject) under \(names) with an act chain at most \(deepest) deep; this one would be \(depth)")
        }
    }

    /// How far one policy's checks get, in the order they are made.
    private enum Progress: Int, Comparable {
        case actorNotListed, subjectNotListed, tooDeep, admitted

        init(of policy: DelegationPolicySpec, actor: String, subject: String, depth: Int) {
            if !policy.actors.contains(where: { IstioStringMatch.matches($0, actor) }) {
                self = .actorNotListed
            } else if !policy.subjects.contains(where: { IstioStringMatch.matches($0, subject) }) {
                self = .subjectNotListed
            } else if depth > policy.maxDepth {
                self = .tooDeep
            } else {
                self = .admitted
            }
        }

        static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }
}
