@testable import GatehouseAuthorization
import GatehouseCore
import Testing

/// The rule index is only a pre-filter: `decide` with it must give exactly the decision the plain
/// scan gives (outcome, policy, rule, reason, audit and dry-run notes), and the scan must be what
/// `decide` was before the index. Random policies and requests, from a fixed seed, over vocabularies
/// small enough that rules often match and chosen to hit every pattern form the index treats
/// differently (exact, prefix, suffix, presence, templates, hosts with ports, case and non-ASCII).
@Suite("Indexed decisions equal the plain scan")
struct IndexedDecisionTests {
    typealias Spec = AuthorizationPolicySpec

    static let fn = FunctionSpec(name: "fn", namespace: "foo", labels: ["app": "fn"], process: .init(command: ["x"]))
    static let other = FunctionSpec(name: "other", namespace: "foo", labels: ["app": "other"], process: .init(command: ["x"]))

    @Test("random policies and requests: indexed decide == scan == decide before the index; explain's words unchanged")
    func randomized() {
        var random = SplitMix64(seed: 18)
        var compared = 0, pruned = 0
        for _ in 0..<1_500 {
            let policies = (0..<Int.random(in: 1...10, using: &random)).map { Self.policy(number: $0, &random) }
            let engine = AuthorizationEngine(policies: policies, functions: [Self.fn, Self.other], rootNamespace: "istio-system")
            for _ in 0..<12 {
                let request = Self.request(&random)
                for function in [Self.fn.key, Self.other.key] {
                    let indexed = engine.decide(request, function: function)
                    let scanned = engine.decideByScan(request, function: function)
                    let before = ScanBeforeTheIndex.decide(engine.policies(for: function), request, function: function)
                    #expect(indexed == scanned, "\(policies)\n\(request)")
                    #expect(scanned == before, "\(policies)\n\(request)")
                    let custom = engine.customPolicy(matching: request, function: function)
                    let customBefore = ScanBeforeTheIndex.customPolicy(engine.policies(for: function), request)
                    #expect(custom?.policy == customBefore?.policy && custom?.rule == customBefore?.rule, "\(policies)\n\(request)")
                    for policy in engine.policies(for: function) {
                        #expect(PolicyMatcher.evaluate(policy, request).misses == ScanBeforeTheIndex.misses(policy, request))
                    }
                    compared += 1
                    if engine.candidateCount(request, function: function) < engine.ruleCount(function: function) { pruned += 1 }
                }
            }
        }
        #expect(compared == 36_000)
        // Not vacuous: the index left rules out for a good share of the requests.
        #expect(pruned > compared / 4, "pruned \(pruned) of \(compared)")
    }

    @Test("past the index budget a set is scanned, with the same answers; sets of more than 64 and 128 rules")
    func budgetAndWideSets() {
        var random = SplitMix64(seed: 64)
        for _ in 0..<200 {
            // Many rules per policy, so the candidate bitmap spans several words.
            let policies = (0..<Int.random(in: 1...6, using: &random)).map { number in
                var spec = Self.policy(number: number, &random)
                spec.rules = (0..<Int.random(in: 10...40, using: &random)).map { _ in Self.rule(&random) }
                return spec
            }
            let indexed = AuthorizationEngine(policies: policies, functions: [Self.fn, Self.other], rootNamespace: "istio-system")
            let unindexed = AuthorizationEngine(
                policies: policies, functions: [Self.fn, Self.other], rootNamespace: "istio-system", indexedRuleBudget: 0)
            for _ in 0..<8 {
                let request = Self.request(&random)
                for function in [Self.fn.key, Self.other.key] {
                    let answer = indexed.decide(request, function: function)
                    #expect(answer == unindexed.decide(request, function: function), "\(policies)\n\(request)")
                    #expect(answer == indexed.decideByScan(request, function: function), "\(policies)\n\(request)")
                    #expect(unindexed.candidateCount(request, function: function) == unindexed.ruleCount(function: function), "nothing pruned without an index")
                }
            }
        }
    }

    @Test("rules the index must not skip")
    func edges() {
        let cases: [(Spec.Rule, AuthorizationRequest)] = [
            (Self.rule(hosts: ["fn.foo.localhost"]), Self.request(host: "FN.Foo.Localhost:8080")),
            (Self.rule(hosts: ["FN.*"]), Self.request(host: "fn.foo.localhost")),
            (Self.rule(hosts: [""]), Self.request(host: ":80")),
            // The Kelvin sign lower-cases to an ASCII "k".
            (Self.rule(hosts: ["k.example"]), Self.request(host: "\u{212A}.example")),
            (Self.rule(paths: ["/api/{*}/orders"]), Self.request(path: "/api/v1/orders")),
            (Self.rule(paths: ["/api/{**}"]), Self.request(path: "/api/v1/orders")),
            (Self.rule(paths: ["*orders"]), Self.request(path: "/api/v1/orders")),
            (Self.rule(paths: ["*"]), Self.request(path: "/x")),
            // A leading `*` wins (Istio): the suffix `/v1*`, never a key.
            (Self.rule(paths: ["*/v1*"]), Self.request(path: "/api/v1*")),
            (Self.rule(methods: ["G*"]), Self.request(method: "GET")),
            (Self.rule(paths: ["/api/*"]), Self.request(path: "/api/")),
            (Self.rule(paths: [""]), Self.request(path: "")),
            (Self.rule(notPaths: ["/admin"]), Self.request(path: "/x")),
            // Any operation may be the one that matches: the second one's keys must reach the rule.
            (Spec.Rule(to: [Self.operation(paths: ["/a"]), Self.operation(methods: ["PUT"])]), Self.request(method: "PUT", path: "/b")),
            (Spec.Rule(to: [Self.operation(paths: ["/a"]), Self.operation(ports: ["8080"])]), Self.request(path: "/b")),
        ]
        for (rule, request) in cases {
            let engine = AuthorizationEngine(
                policies: [Spec(namespace: "foo", name: "p", action: .allow, rules: [rule])], functions: [Self.fn], rootNamespace: "istio-system")
            let decision = engine.decide(request, function: Self.fn.key)
            #expect(decision.outcome == .allow && decision.rule == 0, "\(rule) \(request)")
            #expect(decision == engine.decideByScan(request, function: Self.fn.key))
        }
    }

    @Test("a denial's first miss reads as before, also for policies it never meets there")
    func firstMiss() {
        let request = Self.request(method: "POST")
        for rules in [[Spec.Rule()], [], [Self.rule(methods: ["PUT"])], [Self.rule(methods: ["PUT"]), Spec.Rule()]] {
            let policy = Spec(namespace: "foo", name: "p", rules: rules)
            var words = "foo/p: "
            PolicyMatcher.writeFirstMiss(policy, request, to: &words)
            #expect(words == "foo/p: " + (ScanBeforeTheIndex.misses(policy, request).first ?? "no match"))
        }
    }

    @Test("the index leaves out what cannot match")
    func prunes() {
        let policies = (0..<100).map { index in
            Spec(namespace: "foo", name: "p\(index)", action: .allow, rules: [
                Self.rule(methods: ["GET", "HEAD"], paths: ["/api/v\(index)/*", "/public/{*}/items"]),
                Self.rule(methods: ["POST"], paths: ["/api/v\(index)/orders"]),
            ])
        }
        let engine = AuthorizationEngine(policies: policies, functions: [Self.fn], rootNamespace: "istio-system")
        let request = Self.request(method: "POST", path: "/api/v42/orders")
        #expect(engine.ruleCount(function: Self.fn.key) == 200)
        #expect(engine.candidateCount(request, function: Self.fn.key) == 1)
        #expect(engine.decide(request, function: Self.fn.key).policy == "foo/p42")
    }

    // MARK: Random policies and requests

    static let methods = ["GET", "POST", "PUT", "HEAD", "get", "G*", "*ET", "*", "P*", ""]
    static let paths = [
        "/", "/api", "/api/", "/api/*", "/api/v1/orders", "/api/v1/*", "/api/{*}/orders", "/api/{**}", "/{**}/orders",
        "*", "*orders", "/admin*", "/Admin", "", "/api/v1/orders*", "*/v1*", "/public/{*}/items", "/api/v2/orders",
    ]
    static let hosts = [
        "fn.foo.localhost", "FN.foo.localhost", "fn.foo.localhost:8080", "fn.*", "FN.*", "*.localhost", "*", "other.example",
        "fn.foo.localhost:*", "k.example", "K.*", "[::1]", "[::1]:8080", "", "ﬁ.example",
    ]
    static let ports = ["8080", "443", "80*"]
    static let principals = ["cluster.local/ns/foo/sa/a", "cluster.local/ns/bar/*", "*", "*/sa/a"]
    static let namespaces = ["foo", "bar", "*"]
    static let ipBlocks = ["10.0.0.0/8", "10.1.2.3", "192.168.0.0/16"]
    static let conditions: [(String, [String])] = [
        ("request.headers[x-team]", ["a", "b", "*", "a*"]), ("source.ip", ["10.0.0.0/8", "192.168.1.1"]),
        ("destination.port", ["8080", "443"]), ("request.auth.principal", ["iss/sub", "*"]),
    ]

    static func policy(number: Int, _ random: inout SplitMix64) -> Spec {
        let action = [Spec.Action.allow, .allow, .allow, .deny, .deny, .audit, .custom].randomElement(using: &random)!
        let rules = (0..<Int.random(in: 0...4, using: &random)).map { _ in rule(&random) }
        var spec = Spec(
            namespace: Bool.random(using: &random) ? "foo" : "istio-system", name: "p\(number)",
            selector: Int.random(in: 0..<4, using: &random) == 0 ? ["app": "other"] : nil, action: action, rules: rules,
            dryRun: Int.random(in: 0..<6, using: &random) == 0)
        if action == .custom { spec.provider = "ext" }
        return spec
    }

    static func rule(_ random: inout SplitMix64) -> Spec.Rule {
        var rule = Spec.Rule()
        rule.from = (0..<Int.random(in: 0...2, using: &random)).map { _ in
            var source = Spec.Source()
            switch Int.random(in: 0..<4, using: &random) {
            case 0: source.principals = match(principals, &random)
            case 1: source.namespaces = match(namespaces, &random)
            case 2: source.ipBlocks = match(ipBlocks, &random)
            default: source.requestPrincipals = match(["iss/sub", "*"], &random)
            }
            return source
        }
        rule.to = (0..<Int.random(in: 0...3, using: &random)).map { _ in
            var operation = Spec.Operation()
            if Int.random(in: 0..<3, using: &random) == 0 { operation.hosts = match(hosts, &random) }
            if Int.random(in: 0..<5, using: &random) == 0 { operation.ports = match(ports, &random) }
            if Bool.random(using: &random) { operation.methods = match(methods, &random) }
            if Int.random(in: 0..<3, using: &random) != 0 { operation.paths = match(paths, &random) }
            return operation
        }
        rule.when = (0..<Int.random(in: 0...1, using: &random)).map { _ in
            let (key, values) = conditions.randomElement(using: &random)!
            return Spec.Condition(key: key, match: match(values, &random))
        }
        return rule
    }

    /// One to three values, sometimes `not` values as well or instead.
    static func match(_ vocabulary: [String], _ random: inout SplitMix64) -> Spec.Match {
        func some() -> [String] { (0..<Int.random(in: 1...3, using: &random)).map { _ in vocabulary.randomElement(using: &random)! } }
        switch Int.random(in: 0..<6, using: &random) {
        case 0: return Spec.Match([], not: some())
        case 1: return Spec.Match(some(), not: some())
        default: return Spec.Match(some())
        }
    }

    static func request(_ random: inout SplitMix64) -> AuthorizationRequest {
        let pick = { (values: [String], random: inout SplitMix64) in values.randomElement(using: &random)! }
        var request = AuthorizationRequest(
            method: pick(["GET", "POST", "PUT", "HEAD", "get", "DELETE", "OPTIONS", "G", ""], &random),
            host: pick(["fn.foo.localhost", "FN.FOO.LOCALHOST:8080", "fn.foo.localhost:8080", "fn.foo.localhost:443", "other.example",
                        "\u{212A}.example", "k.example:80", "[::1]:8080", "[::1]", ":80", "", "ﬁ.example", "fn."], &random),
            path: pick(["/", "/api", "/api/", "/api/v1/orders", "/api/v2/orders", "/api/v1/orders/9", "/admin", "/admin/x", "/Admin",
                        "", "//", "/public/x/items", "/x/orders", "*/v1/x", "/api/v1/ordersX"], &random),
            destinationPort: Bool.random(using: &random) ? 8080 : 443, sourceIP: pick(["10.1.2.3", "192.168.1.1"], &random),
            sourcePrincipal: Bool.random(using: &random) ? pick(principals, &random) : nil,
            requestPrincipal: Bool.random(using: &random) ? "iss/sub" : nil)
        if Bool.random(using: &random) { request.headers["x-team"] = pick(["a", "b", "ab"], &random) }
        return request
    }

    static func operation(methods: [String] = [], paths: [String] = [], notPaths: [String] = [], hosts: [String] = [], ports: [String] = []) -> Spec.Operation {
        var operation = Spec.Operation()
        operation.methods = .init(methods)
        operation.paths = .init(paths, not: notPaths)
        operation.hosts = .init(hosts)
        operation.ports = .init(ports)
        return operation
    }

    static func rule(methods: [String] = [], paths: [String] = [], notPaths: [String] = [], hosts: [String] = [], ports: [String] = []) -> Spec.Rule {
        Spec.Rule(to: [operation(methods: methods, paths: paths, notPaths: notPaths, hosts: hosts, ports: ports)])
    }

    static func request(method: String = "GET", host: String = "fn.foo.localhost", path: String = "/") -> AuthorizationRequest {
        AuthorizationRequest(method: method, host: host, path: path, destinationPort: 8080, sourceIP: "10.1.2.3")
    }
}

/// A seeded generator, so a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
