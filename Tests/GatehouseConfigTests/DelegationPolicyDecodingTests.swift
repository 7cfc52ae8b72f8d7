import GatehouseConfig
import GatehouseCore
import Testing

@Suite("DelegationPolicy: who may act for whom at the token endpoint")
struct DelegationPolicyDecodingTests {
    /// The issue's example policy with `spec` lines replaced; lines 1–4 are the envelope, spec from line 5.
    static func policy(_ spec: String = """
          targetRefs: [{kind: Function, name: hello}]
          actors: ["spiffe://cluster.local/ns/agents/sa/bot"]
          subjects: ["*"]
          maxDepth: 2
        """) -> String {
        """
        apiVersion: gatehouse.dev/v1
        kind: DelegationPolicy
        metadata: {name: bots-for-people, namespace: default}
        spec:
        \(spec)
        """
    }

    /// The policy after a Function `hello` and a `---` line: the policy starts on line 10, its first spec line is 14.
    static func config(_ spec: String) -> String {
        functionDocument() + "\n---\n" + policy(spec)
    }

    static let specLine = 14

    @Test("The issue's example is read: scope, actors, subjects, maxDepth; `get delegationpolicies` knows the kind")
    func decoded() throws {
        let snapshot = try ConfigLoader.load(yaml: functionDocument() + "\n---\n" + Self.policy(), file: "delegation.yaml")
        let policy = try #require(snapshot.delegationPolicies.first)
        #expect(policy.reference == "default/bots-for-people")
        #expect(policy.functions == ["hello"] && policy.selector == nil)
        #expect(policy.actors == ["spiffe://cluster.local/ns/agents/sa/bot"])
        #expect(policy.subjects == ["*"])
        #expect(policy.maxDepth == 2)
        #expect(policy.source?.file == "delegation.yaml" && policy.source?.line == 10)
        #expect(snapshot.notices.isEmpty, "\(snapshot.notices)")
        // Kept as a document of its own, so `apply` stores it and `get`/`delete` find it by key.
        #expect(snapshot.documents.map(\.key).contains(ResourceKey(group: "gatehouse.dev", kind: "DelegationPolicy", namespace: "default", name: "bots-for-people")))
        #expect(ResourceKinds.resolve("delegationpolicies")?.kind == "DelegationPolicy")
        #expect(ResourceKinds.resolve("DelegationPolicy")?.group == "gatehouse.dev")
    }

    @Test("maxDepth defaults to 1; a selector scopes by labels; ISSUER/SUBJECT actors, prefix globs past the authority and subject globs at either end are accepted")
    func defaultsAndForms() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.config("""
              selector: {matchLabels: {tier: agents}}
              actors: ["spiffe://cluster.local/ns/agents/sa/*", "https://issuer.example.com/client-7", "https://issuer.example.com/*"]
              subjects: ["https://login.example.com/*", "*@example.com", "https://login.example.com/alice"]
            """), file: "d.yaml")
        let policy = try #require(snapshot.delegationPolicies.first)
        #expect(policy.maxDepth == 1)
        #expect(policy.selector == ["tier": "agents"] && policy.functions.isEmpty)
        #expect(policy.actors.count == 3 && policy.subjects.count == 3)
    }

    @Test("Mistakes are refused with the file, line, field and a fix", arguments: [
        // (spec lines, field, line offset from `spec:`, message fragment, fix fragment)
        ("  subjects: [\"*\"]", "spec.actors", 0, "missing required field `actors`", "add `actors:` with the agents that may act"),
        ("  actors: []\n  subjects: [\"*\"]", "spec.actors", 0, "an empty `actors` list lets no one act: the policy would allow nothing", "list the agents that may act"),
        ("  actors: [\"spiffe://cluster.local/ns/agents/sa/bot\"]", "spec.subjects", 0, "missing required field `subjects`", "or [\"*\"] for anyone"),
        ("  actors: [\"spiffe://cluster.local/ns/agents/sa/bot\"]\n  subjects: []", "spec.subjects", 1, "an empty `subjects` list names no one to act for", "or [\"*\"] for anyone"),
        ("  actors: [\"spiffe://cluster.local/ns/*/sa/bot\"]\n  subjects: [\"*\"]", "spec.actors[0]", 0, "has a `*` that neither starts nor ends it alone", "write a prefix"),
        ("  actors: [\"*bot*\"]\n  subjects: [\"*\"]", "spec.actors[0]", 0, "Istio principal patterns allow one `*`, at the start or at the end", "or an exact principal"),
        ("  actors: [\"*\"]\n  subjects: [\"*\"]", "spec.actors[0]", 0, "`*` would let any caller holding someone's token act for them", "spiffe://cluster.local/ns/agents/sa/*"),
        ("  actors: [\"*/sa/bot\"]\n  subjects: [\"*\"]", "spec.actors[0]", 0, "matches agents of every trust domain and issuer", "name the trust domain or issuer"),
        ("  actors: [\"spiffe://*\"]\n  subjects: [\"*\"]", "spec.actors[0]", 0, "stops before naming a whole trust domain or issuer", "spiffe://TRUST-DOMAIN/"),
        ("  actors: [\"spiffe://cluster.local*\"]\n  subjects: [\"*\"]", "spec.actors[0]", 0, "stops before naming a whole trust domain or issuer", "https://ISSUER/"),
        ("  actors: [\"cluster.local/ns/agents/sa/bot\"]\n  subjects: [\"*\"]", "spec.actors[0]", 0, "written as an Istio `principals` entry", "write \"spiffe://cluster.local/ns/agents/sa/bot\""),
        ("  actors: [\"spiffe://cluster.local\"]\n  subjects: [\"*\"]", "spec.actors[0]", 0, "is not a SPIFFE ID", "spiffe://TRUST-DOMAIN/ns/NAMESPACE/sa/SERVICE-ACCOUNT"),
        ("  actors: [\"bot\"]\n  subjects: [\"*\"]", "spec.actors[0]", 0, "\"bot\" is not a SPIFFE ID or ISSUER/SUBJECT, so it matches no one", "spiffe://cluster.local/ns/agents/sa/bot"),
        ("  actors: [\"spiffe://cluster.local/ns/a/sa/b\"]\n  subjects: [\"alice\"]", "spec.subjects[0]", 1, "\"alice\" is not ISSUER/SUBJECT", "https://login.example.com/USER-ID"),
        ("  actors: [\"spiffe://cluster.local/ns/a/sa/b\"]\n  subjects: [\"https://login.example.com/*/admin\"]", "spec.subjects[0]", 1, "neither starts nor ends it", "write a prefix"),
        ("  actors: [\"spiffe://cluster.local/ns/a/sa/b\"]\n  subjects: [\"*\"]\n  maxDepth: 9", "spec.maxDepth", 2, "must be between 1 and 8, got 9", "write 1 (an agent acting for a person, the default)"),
        ("  actors: [\"spiffe://cluster.local/ns/a/sa/b\"]\n  subjects: [\"*\"]\n  maxDepth: 0", "spec.maxDepth", 2, "must be between 1 and 8, got 0", "or 2 (an agent calling another agent for them)"),
        ("  actors: [\"spiffe://cluster.local/ns/a/sa/b\"]\n  subjects: [\"*\"]\n  maxDepth: \"2\"", "spec.maxDepth", 2, "expected an integer", "write 2 without quotes"),
        ("  actors: [\"spiffe://cluster.local/ns/a/sa/b\"]\n  subjects: [\"*\"]\n  maxdepth: 2", "spec.maxdepth", 2, "unknown field `maxdepth`", "did you mean `maxDepth`?"),
        ("  actor: [\"spiffe://cluster.local/ns/a/sa/b\"]\n  subjects: [\"*\"]", "spec.actor", 0, "unknown field `actor`; the required field `actors` is missing", "did you mean `actors`?"),
        ("  targetRefs: [{kind: Deployment, name: hello}]\n  actors: [\"spiffe://cluster.local/ns/a/sa/b\"]\n  subjects: [\"*\"]", "spec.targetRefs[0].kind", 0, "targetRefs kind \"Deployment\" is not a function", "use `kind: Service`"),
        ("  selector: {matchLabels: {app: x}}\n  targetRefs: [{kind: Function, name: hello}]\n  actors: [\"spiffe://cluster.local/ns/a/sa/b\"]\n  subjects: [\"*\"]", "spec.targetRefs", 0, "`selector` and `targetRefs` cannot both be set", "keep one of them"),
    ])
    func mistakes(spec: String, field: String, lineOffset: Int, message: String, fix: String) throws {
        let found = diagnostics(Self.config(spec), file: "delegation.yaml")
        let problem = try #require(found.first { $0.field == field }, "\(found)")
        #expect(found.count == 1, "one mistake, one message: \(found)")
        #expect(problem.location.file == "delegation.yaml")
        #expect(problem.location.line == Self.specLine + lineOffset, "\(problem)")
        #expect(problem.message.contains(message), "\(problem.message)")
        #expect(problem.fix?.contains(fix) == true, "\(problem.fix ?? "no fix")")
    }

    @Test("A targetRef naming no function is applied (as AuthorizationPolicy's are) with a notice and a near spelling")
    func missingTarget() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.config("""
              targetRefs: [{kind: Function, name: helo}]
              actors: ["spiffe://cluster.local/ns/agents/sa/bot"]
              subjects: ["*"]
            """), file: "d.yaml")
        #expect(snapshot.delegationPolicies.map(\.functions) == [["helo"]])
        #expect(snapshot.notices.map(\.description) == [
            "d.yaml:10:1: DelegationPolicy default/bots-for-people: targetRefs names \"helo\", which is not a function in namespace default "
                + "(did you mean \"hello\"?); no exchange is allowed for it until it is",
        ])
    }

    @Test("Two policies with one name in one namespace are refused as duplicates")
    func duplicate() {
        let found = diagnostics(Self.policy() + "\n---\n" + Self.policy())
        #expect(found.map(\.field) == ["metadata.name"], "\(found)")
        #expect(found.first?.message.contains("duplicate DelegationPolicy default/bots-for-people") == true)
    }
}
