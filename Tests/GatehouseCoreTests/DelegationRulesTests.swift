import GatehouseCore
import Testing

/// The token endpoint asks `DelegationRules.decide` once per exchange: these are its answers.
@Suite("Delegation rules: who may act for whom, and why not")
struct DelegationRulesTests {
    static let bot = "spiffe://cluster.local/ns/agents/sa/bot"
    static let planner = "spiffe://cluster.local/ns/agents/sa/planner"
    static let alice = "https://login.example.com/alice"
    static let hello = function("hello")
    static let billing = function("billing", labels: ["tier": "money"])
    static let elsewhere = function("hello", namespace: "other")

    static func function(_ name: String, namespace: String = "default", labels: [String: String] = [:]) -> FunctionSpec {
        FunctionSpec(name: name, namespace: namespace, labels: labels, process: .init(command: ["./server"]))
    }

    static func policy(
        _ name: String, in namespace: String = "default", functions: [String] = ["hello"], selector: [String: String]? = nil,
        actors: [String] = [bot], subjects: [String] = ["*"], maxDepth: Int = 1
    ) -> DelegationPolicySpec {
        DelegationPolicySpec(
            namespace: namespace, name: name, functions: functions, selector: selector, actors: actors, subjects: subjects, maxDepth: maxDepth)
    }

    static func rules(_ policies: DelegationPolicySpec...) -> DelegationRules {
        DelegationRules(policies: policies, functions: [hello, billing, elsewhere], rootNamespace: "istio-system")
    }

    static func reason(_ decision: DelegationDecision) -> String? {
        if case .refused(let reason, _) = decision { return reason }
        return nil
    }

    static func detail(_ decision: DelegationDecision) -> String {
        if case .refused(_, let detail) = decision { return detail }
        return ""
    }

    @Test("An actor the policy lists, for a subject it lists, one hop deep: allowed, naming the policy")
    func allowed() {
        let decision = Self.rules(Self.policy("bots")).decide(audience: Self.hello, actor: Self.bot, subject: Self.alice, depth: 1)
        #expect(decision == .allowed(policy: "default/bots"))
        #expect(decision.isAllowed)
    }

    @Test("Without any DelegationPolicy for the audience, nothing is allowed — not even for another function's actors")
    func noPolicy() {
        let none = DelegationRules(policies: [], functions: [Self.hello], rootNamespace: "istio-system")
            .decide(audience: Self.hello, actor: Self.bot, subject: Self.alice, depth: 1)
        #expect(Self.reason(none) == "delegation_no_policy")
        #expect(Self.detail(none) == "no DelegationPolicy applies to function default/hello: no exchange is allowed for it")

        let onlyHello = Self.rules(Self.policy("bots")).decide(audience: Self.billing, actor: Self.bot, subject: Self.alice, depth: 1)
        #expect(Self.reason(onlyHello) == DelegationDecision.noPolicy)
        // Same name, other namespace: targetRefs name functions of the policy's own namespace.
        #expect(Self.reason(Self.rules(Self.policy("bots")).decide(audience: Self.elsewhere, actor: Self.bot, subject: Self.alice, depth: 1))
            == DelegationDecision.noPolicy)
    }

    @Test("An actor no applicable policy lists is refused, naming the policies consulted")
    func actorNotAllowed() {
        let decision = Self.rules(Self.policy("bots"), Self.policy("more-bots"))
            .decide(audience: Self.hello, actor: Self.planner, subject: Self.alice, depth: 1)
        #expect(Self.reason(decision) == "delegation_actor_not_allowed")
        #expect(Self.detail(decision)
            == "actor \(Self.planner) is not in the `actors` of DelegationPolicies default/bots, default/more-bots, which apply to function default/hello")
    }

    @Test("A listed actor asking for a subject the policy does not list is refused as such")
    func subjectNotAllowed() {
        let decision = Self.rules(Self.policy("bots", subjects: ["https://login.example.com/bob"]))
            .decide(audience: Self.hello, actor: Self.bot, subject: Self.alice, depth: 1)
        #expect(Self.reason(decision) == "delegation_subject_not_allowed")
        #expect(Self.detail(decision) == "actor \(Self.bot) is listed by DelegationPolicy default/bots, but subject \(Self.alice) is not in its `subjects`")
    }

    @Test("An act chain longer than maxDepth is refused; at maxDepth it is allowed")
    func tooDeep() {
        let rules = Self.rules(Self.policy("bots", maxDepth: 2))
        #expect(rules.decide(audience: Self.hello, actor: Self.bot, subject: Self.alice, depth: 2) == .allowed(policy: "default/bots"))
        let decision = rules.decide(audience: Self.hello, actor: Self.bot, subject: Self.alice, depth: 3)
        #expect(Self.reason(decision) == "delegation_too_deep")
        #expect(Self.detail(decision)
            == "actor \(Self.bot) may act for \(Self.alice) under DelegationPolicy default/bots with an act chain at most 2 deep; this one would be 3")
    }

    @Test("Any applicable policy may allow; a refusal gives the most specific reason any policy reached")
    func mostSpecific() {
        let shallow = Self.policy("a-shallow", maxDepth: 1)
        let otherSubjects = Self.policy("b-bob-only", subjects: ["https://login.example.com/bob"], maxDepth: 4)
        let otherActors = Self.policy("c-planner", actors: [Self.planner], maxDepth: 8)
        let rules = Self.rules(otherActors, otherSubjects, shallow)
        #expect(Self.reason(rules.decide(audience: Self.hello, actor: Self.bot, subject: Self.alice, depth: 2)) == DelegationDecision.tooDeep)
        #expect(Self.detail(rules.decide(audience: Self.hello, actor: Self.bot, subject: Self.alice, depth: 2)).contains("DelegationPolicy default/a-shallow "))
        #expect(rules.decide(audience: Self.hello, actor: Self.bot, subject: "https://login.example.com/bob", depth: 2) == .allowed(policy: "default/b-bob-only"))
        #expect(rules.decide(audience: Self.hello, actor: Self.planner, subject: Self.alice, depth: 8) == .allowed(policy: "default/c-planner"))
        #expect(Self.reason(rules.decide(audience: Self.hello, actor: "spiffe://cluster.local/ns/x/sa/y", subject: Self.alice, depth: 1))
            == DelegationDecision.actorNotAllowed)
    }

    @Test("When several policies allow, the decision names the first by namespace and name, whatever the document order")
    func stableProvenance() {
        let decision = Self.rules(Self.policy("zeta"), Self.policy("alpha"))
            .decide(audience: Self.hello, actor: Self.bot, subject: Self.alice, depth: 1)
        #expect(decision == .allowed(policy: "default/alpha"))
    }

    @Test("Actors and subjects match as Istio principals: exact, prefix*, *suffix, and * (anyone, but not no one)", arguments: [
        ("spiffe://cluster.local/ns/agents/sa/*", bot, true),
        ("spiffe://cluster.local/ns/agents/sa/*", "spiffe://cluster.local/ns/agentsX/sa/bot", false),
        ("*/sa/bot", bot, true),
        ("*/sa/bot", "https://issuer.example.com/sa/bot", true),
        ("*/sa/bot", "spiffe://cluster.local/ns/agents/sa/bot2", false),
        (bot, bot, true),
        (bot, bot.uppercased(), false),
        ("https://issuer.example.com/client-7", "https://issuer.example.com/client-7", true),
        ("https://issuer.example.com/client-7", "https://issuer.example.com/client-77", false),
    ])
    func actorPatterns(pattern: String, actor: String, admitted: Bool) {
        let decision = Self.rules(Self.policy("p", actors: [pattern])).decide(audience: Self.hello, actor: actor, subject: Self.alice, depth: 1)
        #expect(decision.isAllowed == admitted, "\(pattern) vs \(actor): \(decision)")
    }

    @Test("Subject patterns", arguments: [
        ("*", alice, true),
        ("*", "", false),
        ("https://login.example.com/*", alice, true),
        ("https://login.example.com/*", "https://login.example.org/alice", false),
        ("*@example.com", "https://login.example.com/alice@example.com", true),
        (alice, alice, true),
        (alice, "https://login.example.com/alice2", false),
    ])
    func subjectPatterns(pattern: String, subject: String, admitted: Bool) {
        let decision = Self.rules(Self.policy("p", subjects: [pattern])).decide(audience: Self.hello, actor: Self.bot, subject: subject, depth: 1)
        #expect(decision.isAllowed == admitted, "\(pattern) vs \(subject): \(decision)")
    }

    @Test("Scope as Istio's: a selector picks functions by label; the root namespace's policies apply mesh-wide")
    func scope() {
        let byLabel = Self.policy("money", functions: [], selector: ["tier": "money"])
        let meshWide = Self.policy("everywhere", in: "istio-system", functions: [], actors: [Self.planner])
        let rules = Self.rules(byLabel, meshWide)
        #expect(rules.decide(audience: Self.billing, actor: Self.bot, subject: Self.alice, depth: 1) == .allowed(policy: "default/money"))
        #expect(Self.reason(rules.decide(audience: Self.hello, actor: Self.bot, subject: Self.alice, depth: 1)) == DelegationDecision.actorNotAllowed)
        #expect(rules.decide(audience: Self.elsewhere, actor: Self.planner, subject: Self.alice, depth: 1) == .allowed(policy: "istio-system/everywhere"))
        #expect(rules.policies(for: Self.billing).map(\.reference) == ["default/money", "istio-system/everywhere"])
    }

    @Test("An audience not known when the rules were built (a Broker's ingress, a newer function) is still judged by scope")
    func unindexedAudience() {
        let late = Self.function("late")
        let rules = Self.rules(Self.policy("late-bots", functions: ["late"]))
        #expect(rules.decide(audience: late, actor: Self.bot, subject: Self.alice, depth: 1) == .allowed(policy: "default/late-bots"))
    }
}
