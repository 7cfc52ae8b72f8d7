import GatehouseAuthorization
import GatehouseCore
import Testing

/// Istio's documented AuthorizationPolicy behaviours, as table rows: policies, a request, and the
/// decision Istio would make (and which policy makes it).
@Suite("AuthorizationPolicy semantics")
struct AuthorizationEngineTests {
    typealias Spec = AuthorizationPolicySpec

    static let fn = FunctionSpec(name: "fn", namespace: "foo", labels: ["app": "fn"], process: .init(command: ["x"]))
    static let other = FunctionSpec(name: "other", namespace: "bar", labels: ["app": "other"], process: .init(command: ["x"]))

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var policies: [Spec]
        var request: AuthorizationRequest
        var function = AuthorizationEngineTests.fn
        var outcome: AccessDecision.Outcome
        var policy: String?
        var testDescription: String { name }
    }

    static func request(
        _ method: String = "GET", _ path: String = "/", headers: [String: String] = [:], principal: String? = nil,
        requestPrincipal: String? = nil, ip: String = "10.1.2.3"
    ) -> AuthorizationRequest {
        AuthorizationRequest(
            method: method, host: "fn.foo.localhost:8080", path: path, destinationPort: 8080, sourceIP: ip,
            sourcePrincipal: principal, requestPrincipal: requestPrincipal, headers: headers)
    }

    static func policy(_ name: String, _ action: Spec.Action = .allow, namespace: String = "foo", rules: [Spec.Rule], dryRun: Bool = false) -> Spec {
        Spec(namespace: namespace, name: name, action: action, rules: rules, dryRun: dryRun)
    }

    static func to(methods: [String] = [], paths: [String] = [], notPaths: [String] = [], hosts: [String] = [], ports: [String] = []) -> Spec.Rule {
        var operation = Spec.Operation()
        operation.methods = .init(methods)
        operation.paths = .init(paths, not: notPaths)
        operation.hosts = .init(hosts)
        operation.ports = .init(ports)
        return Spec.Rule(to: [operation])
    }

    static func from(_ configure: (inout Spec.Source) -> Void) -> Spec.Rule {
        var source = Spec.Source()
        configure(&source)
        return Spec.Rule(from: [source])
    }

    static func when(_ key: String, _ values: [String] = [], not notValues: [String] = []) -> Spec.Rule {
        Spec.Rule(when: [.init(key: key, match: .init(values, not: notValues))])
    }

    static let cases: [Case] = [
        Case(name: "no policy: allowed", policies: [], request: request(), outcome: .allow),
        Case(name: "allow-nothing (ALLOW without rules) denies everything",
             policies: [policy("allow-nothing", rules: [])], request: request(), outcome: .deny),
        Case(name: "allow-all (one empty rule) allows everything",
             policies: [policy("allow-all", rules: [.init()])], request: request("DELETE", "/x"), outcome: .allow, policy: "foo/allow-all"),
        Case(name: "deny-all (DENY with one empty rule) denies everything",
             policies: [policy("deny-all", .deny, rules: [.init()])], request: request(), outcome: .deny, policy: "foo/deny-all"),
        Case(name: "DENY without rules matches nothing",
             policies: [policy("deny-none", .deny, rules: [])], request: request(), outcome: .allow),
        Case(name: "deny by method",
             policies: [policy("no-delete", .deny, rules: [to(methods: ["DELETE"])])], request: request("DELETE"), outcome: .deny, policy: "foo/no-delete"),
        Case(name: "deny by method lets other methods through",
             policies: [policy("no-delete", .deny, rules: [to(methods: ["DELETE"])])], request: request("GET"), outcome: .allow),
        Case(name: "DENY wins over a matching ALLOW",
             policies: [policy("allow-all", rules: [.init()]), policy("no-admin", .deny, rules: [to(paths: ["/admin*"])])],
             request: request("GET", "/admin/users"), outcome: .deny, policy: "foo/no-admin"),
        Case(name: "ALLOW policies apply and none matches: denied",
             policies: [policy("get-only", rules: [to(methods: ["GET"])])], request: request("POST"), outcome: .deny),
        Case(name: "header condition matches",
             policies: [policy("team", rules: [when("request.headers[X-Team]", ["billing", "ops*"])])],
             request: request(headers: ["x-team": "ops-eu"]), outcome: .allow, policy: "foo/team"),
        Case(name: "header condition absent header: no match",
             policies: [policy("team", rules: [when("request.headers[X-Team]", ["billing"])])], request: request(), outcome: .deny),
        Case(name: "notValues excludes",
             policies: [policy("not-guest", rules: [when("request.headers[x-role]", not: ["guest"])])],
             request: request(headers: ["x-role": "guest"]), outcome: .deny),
        Case(name: "notPaths: everything but /private",
             policies: [policy("public", rules: [to(notPaths: ["/private*"])])], request: request("GET", "/private/key"), outcome: .deny),
        Case(name: "notPaths: other paths allowed",
             policies: [policy("public", rules: [to(notPaths: ["/private*"])])], request: request("GET", "/public"), outcome: .allow, policy: "foo/public"),
        Case(name: "notRequestPrincipals [*] denies requests without a JWT",
             policies: [policy("require-jwt", .deny, rules: [from { $0.requestPrincipals = .init(not: ["*"]) }])],
             request: request(), outcome: .deny, policy: "foo/require-jwt"),
        Case(name: "notRequestPrincipals [*] lets requests with a JWT through",
             policies: [policy("require-jwt", .deny, rules: [from { $0.requestPrincipals = .init(not: ["*"]) }])],
             request: request(requestPrincipal: "https://idp/alice"), outcome: .allow),
        Case(name: "require mTLS: DENY notPrincipals [*] refuses plaintext",
             policies: [policy("require-mtls", .deny, rules: [from { $0.principals = .init(not: ["*"]) }])],
             request: request(), outcome: .deny, policy: "foo/require-mtls"),
        Case(name: "require mTLS: a peer identity passes",
             policies: [policy("require-mtls", .deny, rules: [from { $0.principals = .init(not: ["*"]) }])],
             request: request(principal: "cluster.local/ns/bar/sa/default"), outcome: .allow),
        Case(name: "namespace isolation: same namespace allowed",
             policies: [policy("same-ns", rules: [from { $0.namespaces = .init(["foo"]) }])],
             request: request(principal: "cluster.local/ns/foo/sa/default"), outcome: .allow, policy: "foo/same-ns"),
        Case(name: "namespace isolation: other namespace denied",
             policies: [policy("same-ns", rules: [from { $0.namespaces = .init(["foo"]) }])],
             request: request(principal: "cluster.local/ns/bar/sa/default"), outcome: .deny),
        Case(name: "a policy in another namespace does not apply",
             policies: [policy("deny-all", .deny, namespace: "bar", rules: [.init()])], request: request(), outcome: .allow),
        Case(name: "a root-namespace policy applies mesh-wide",
             policies: [policy("deny-all", .deny, namespace: "istio-system", rules: [.init()])], request: request(),
             outcome: .deny, policy: "istio-system/deny-all"),
        Case(name: "ipBlocks CIDR",
             policies: [policy("office", rules: [from { $0.ipBlocks = .init(["10.0.0.0/8"]) }])], request: request(ip: "10.200.0.1"),
             outcome: .allow, policy: "foo/office"),
        Case(name: "ipBlocks CIDR outside",
             policies: [policy("office", rules: [from { $0.ipBlocks = .init(["10.0.0.0/8"]) }])], request: request(ip: "192.0.2.1"),
             outcome: .deny),
        Case(name: "path template {*} matches one segment",
             policies: [policy("orders", rules: [to(paths: ["/users/{*}/orders"])])], request: request("GET", "/users/42/orders"),
             outcome: .allow, policy: "foo/orders"),
        Case(name: "path template {*} does not match two segments",
             policies: [policy("orders", rules: [to(paths: ["/users/{*}/orders"])])], request: request("GET", "/users/4/2/orders"),
             outcome: .deny),
        Case(name: "path template {**} matches many segments",
             policies: [policy("files", rules: [to(paths: ["/files/{**}"])])], request: request("GET", "/files/a/b/c.txt"),
             outcome: .allow, policy: "foo/files"),
        Case(name: "path template {**} needs a non-empty segment",
             policies: [policy("files", rules: [to(paths: ["/files/{**}"])])], request: request("GET", "/files/"),
             outcome: .deny),
        Case(name: "path template {**} does not span an empty segment",
             policies: [policy("ab", rules: [to(paths: ["/a/{**}/b"])])], request: request("GET", "/a//b"),
             outcome: .deny),
        Case(name: "path template {**} in the middle",
             policies: [policy("ab", rules: [to(paths: ["/a/{**}/b"])])], request: request("GET", "/a/x/y/b"),
             outcome: .allow, policy: "foo/ab"),
        Case(name: "hosts match case-insensitively and on any port",
             policies: [policy("host", rules: [to(hosts: ["FN.foo.localhost"])])], request: request(), outcome: .allow, policy: "foo/host"),
        Case(name: "ports",
             policies: [policy("port", rules: [to(ports: ["9090"])])], request: request(), outcome: .deny),
        Case(name: "a dry-run DENY is recorded, not enforced",
             policies: [policy("try-deny", .deny, rules: [.init()], dryRun: true)], request: request(), outcome: .allow),
        Case(name: "AUDIT does not change the decision",
             policies: [policy("audit", .audit, rules: [.init()])], request: request(), outcome: .allow),
    ]

    @Test("Istio's documented behaviours", arguments: cases)
    func decide(_ row: Case) {
        let engine = AuthorizationEngine(policies: row.policies, functions: [Self.fn, Self.other], rootNamespace: "istio-system")
        let decision = engine.decide(row.request, function: row.function.key)
        #expect(decision.outcome == row.outcome, "\(decision.reason)")
        #expect(decision.policy == row.policy, "\(decision.reason)")
    }

    @Test("A denial names the policy, the rule and what it matched; a miss says which clause failed")
    func reasons() {
        let engine = AuthorizationEngine(
            policies: [Self.policy("no-delete", .deny, rules: [Self.to(methods: ["DELETE"])]),
                       Self.policy("get-only", rules: [Self.to(methods: ["GET"]), Self.to(paths: ["/public"])])],
            functions: [Self.fn], rootNamespace: "istio-system")
        let denied = engine.decide(Self.request("DELETE"), function: Self.fn.key)
        #expect(denied.rule == 0)
        #expect(denied.reason == #"DENY policy foo/no-delete rule 0 matched: to[0].operation.methods ["DELETE"]"#)
        #expect(denied.responseCodeDetails == "rbac_access_denied_matched_policy[ns[foo]-policy[no-delete]-rule[0]]")

        let (notAllowed, evaluations) = engine.explain(Self.request("POST", "/x"), function: Self.fn.key)
        #expect(notAllowed.outcome == .deny && notAllowed.policy == nil)
        #expect(notAllowed.reason.contains(#"foo/get-only: rule 0: to[0].operation.methods: "POST" is not one of ["GET"]"#), "\(notAllowed.reason)")
        let getOnly = evaluations.first { $0.policy.name == "get-only" }
        #expect(getOnly?.misses == [
            #"rule 0: to[0].operation.methods: "POST" is not one of ["GET"]"#,
            #"rule 1: to[0].operation.paths: "/x" is not one of ["/public"]"#,
        ])
    }

    @Test("Dry-run and audit results are recorded in the decision")
    func dryRunAndAudit() {
        let engine = AuthorizationEngine(
            policies: [Self.policy("try-deny", .deny, rules: [.init()], dryRun: true), Self.policy("audit", .audit, rules: [.init()])],
            functions: [Self.fn], rootNamespace: "istio-system")
        let decision = engine.decide(Self.request(), function: Self.fn.key)
        #expect(decision.dryRun == ["foo/try-deny: would deny (rule 0)"])
        #expect(decision.audited == ["foo/audit"])
    }

    @Test("Selectors and targetRefs pick functions by labels and by name")
    func scoping() {
        let byLabel = Spec(namespace: "foo", name: "l", selector: ["app": "fn"], rules: [])
        let byWrongLabel = Spec(namespace: "foo", name: "w", selector: ["app": "nope"], rules: [])
        let byName = Spec(namespace: "foo", name: "n", targetNames: ["fn"], rules: [])
        let rootSelector = Spec(namespace: "istio-system", name: "r", selector: ["app": "other"], rules: [])
        #expect(AuthorizationEngine.applies(byLabel, to: Self.fn, rootNamespace: "istio-system"))
        #expect(!AuthorizationEngine.applies(byWrongLabel, to: Self.fn, rootNamespace: "istio-system"))
        #expect(AuthorizationEngine.applies(byName, to: Self.fn, rootNamespace: "istio-system"))
        #expect(!AuthorizationEngine.applies(byName, to: Self.other, rootNamespace: "istio-system"))
        #expect(AuthorizationEngine.applies(rootSelector, to: Self.other, rootNamespace: "istio-system"))
        #expect(!AuthorizationEngine.applies(rootSelector, to: Self.fn, rootNamespace: "istio-system"))
    }
}

@Suite("The original client behind trusted proxies")
struct RemoteAddressTests {
    @Test("The Nth X-Forwarded-For entry from the right; the peer without proxies or header", arguments: [
        ("198.51.100.7, 203.0.113.9", 1, "203.0.113.9"),
        ("198.51.100.7, 203.0.113.9", 2, "198.51.100.7"),
        ("198.51.100.7", 3, "198.51.100.7"),
        ("198.51.100.7", 0, "127.0.0.1"),
        ("", 1, "127.0.0.1"),
    ])
    func remote(_ forwardedFor: String, _ proxies: Int, _ expected: String) {
        #expect(AuthorizeRequest.remoteAddress(forwardedFor: forwardedFor, trustedProxies: proxies, peer: "127.0.0.1") == expected)
    }
}

@Suite("Addresses and CIDR blocks")
struct IPBlockTests {
    @Test("Malformed blocks are refused, not trapped on", arguments: ["", "/", "10.0.0.0/", "10.0.0.0/33", "::1/129", "host"])
    func malformed(_ text: String) {
        #expect(IPBlock(text) == nil)
    }

    @Test("IPv4 and IPv6 ranges")
    func ranges() throws {
        #expect(try #require(IPBlock("10.0.0.0/8")).contains("10.255.0.1"))
        #expect(try !#require(IPBlock("10.0.0.0/8")).contains("11.0.0.1"))
        #expect(try #require(IPBlock("2001:db8::/32")).contains("2001:db8:1::5"))
        #expect(try !#require(IPBlock("2001:db8::/32")).contains("10.0.0.1"))
        #expect(try #require(IPBlock("192.0.2.7")).contains("192.0.2.7"))
    }
}

@Suite("Path normalization before policies match")
struct PathNormalizationTests {
    @Test("Dot segments, escaped unreserved characters and backslashes are normalized; slashes are not merged",
          arguments: [
              ("/a/b/../c", "/a/c"), ("/a/./b", "/a/b"), ("/../../etc", "/etc"), ("/%61dmin", "/admin"),
              ("/a%2fb", "/a%2Fb"), ("/a\\..\\admin", "/admin"), ("//double", "//double"), ("/a/..", "/"), ("/", "/"),
              // A bare `%` is data: decoding after it must not make a new escape (FuzzRequestHead's
              // idempotence check: `%%32%65` was `%2e`, `%%30%30` was `%00`).
              ("/a/%%32%65%%32%65/admin", "/a/%252e%252e/admin"), ("/a%%30%30", "/a%2500"), ("/100%", "/100%25"), ("/%zz", "/%25zz"),
          ])
    func normalize(_ input: String, _ expected: String) {
        #expect(PathNormalization.normalize(input) == expected)
    }

    @Test("A policy on /admin is not bypassed by an encoded or dotted path")
    func noBypass() {
        let policy = AuthorizationPolicySpec(
            namespace: "foo", name: "no-admin", action: .deny,
            rules: [AuthorizationEngineTests.to(paths: ["/admin*"])])
        let engine = AuthorizationEngine(policies: [policy], functions: [AuthorizationEngineTests.fn], rootNamespace: "istio-system")
        for raw in ["/%61dmin/x", "/public/../admin", "/public\\..\\admin"] {
            let request = AuthorizationEngineTests.request("GET", PathNormalization.normalize(raw))
            #expect(engine.decide(request, function: AuthorizationEngineTests.fn.key).outcome == .deny, "\(raw)")
        }
    }
}

/// Delegated tokens: `request.auth.claims[act][sub]` is the current agent (Istio's nested claims),
/// and Gatehouse's `request.auth.actors` is any agent of the chain.
@Suite("AuthorizationPolicy sees the agents acting for a person")
struct DelegationConditionTests {
    static let chain: ClaimValue = .object(["sub": .string("spiffe://cluster.local/ns/default/sa/bot"),
                                            "act": .object(["sub": .string("spiffe://cluster.local/ns/default/sa/planner")])])

    static func request(path: String, act: ClaimValue?) -> AuthorizationRequest {
        AuthorizationRequest(
            method: "GET", host: "fn.foo.localhost", path: path, destinationPort: 8080, requestPrincipal: "https://idp/alice",
            claims: act.map { ["act": $0] } ?? [:])
    }

    @Test("A DENY on /admin for any agent: the person reaches it, an agent (current or earlier in the chain) does not")
    func denyAgents() {
        typealias T = AuthorizationEngineTests
        var rule = T.to(paths: ["/admin*"])
        rule.when = [.init(key: "request.auth.actors", match: .init(["*"]))]
        let engine = AuthorizationEngine(policies: [T.policy("no-agents", .deny, rules: [rule])], functions: [T.fn], rootNamespace: "istio-system")
        #expect(engine.decide(Self.request(path: "/admin", act: nil), function: T.fn.key).outcome == .allow)
        #expect(engine.decide(Self.request(path: "/admin", act: Self.chain), function: T.fn.key).outcome == .deny)
        #expect(engine.decide(Self.request(path: "/public", act: Self.chain), function: T.fn.key).outcome == .allow)

        var planner = T.to(paths: ["/admin*"])
        planner.when = [.init(key: "request.auth.actors", match: .init(["*/sa/planner"]))]
        let earlier = AuthorizationEngine(policies: [T.policy("no-planner", .deny, rules: [planner])], functions: [T.fn], rootNamespace: "istio-system")
        #expect(earlier.decide(Self.request(path: "/admin", act: Self.chain), function: T.fn.key).outcome == .deny, "an earlier agent counts too")

        let current = AuthorizationEngine(
            policies: [T.policy("bot-only", rules: [T.when("request.auth.claims[act][sub]", ["spiffe://cluster.local/ns/default/sa/bot"])])],
            functions: [T.fn], rootNamespace: "istio-system")
        #expect(current.decide(Self.request(path: "/", act: Self.chain), function: T.fn.key).outcome == .allow)
        #expect(current.decide(Self.request(path: "/", act: nil), function: T.fn.key).outcome == .deny)
    }
}

@Suite("Istio's string forms at their edges")
struct StringFormEdgeTests {
    @Test("A leading `*` wins, as in Istio: `*admin*` is the suffix `admin*`, not the prefix `*admin`")
    func bothEnds() {
        #expect(IstioStringMatch.matches("*admin*", "x-admin*"))
        #expect(!IstioStringMatch.matches("*admin*", "*admin-x"))
        #expect(IstioStringMatch.matches("admin*", "admin-x") && IstioStringMatch.matches("*admin", "x-admin"))
        #expect(IstioStringMatch.matches("*", "x") && !IstioStringMatch.matches("*", ""))
    }

    @Test("A bracketed IPv6 host without a port matches it on any port; with one, only there")
    func ipv6Hosts() {
        typealias T = AuthorizationEngineTests
        for (pattern, host, outcome) in [
            ("[fd00::1]", "[fd00::1]:443", AccessDecision.Outcome.deny), ("[fd00::1]", "[fd00::1]", .deny),
            ("[fd00::1]:80", "[fd00::1]:443", .allow), ("[fd00::1]:443", "[fd00::1]:443", .deny),
        ] {
            let engine = AuthorizationEngine(
                policies: [T.policy("no-v6", .deny, rules: [T.to(hosts: [pattern])])], functions: [T.fn], rootNamespace: "istio-system")
            let request = AuthorizationRequest(method: "GET", host: host, path: "/", destinationPort: 443)
            #expect(engine.decide(request, function: T.fn.key).outcome == outcome, "\(pattern) vs \(host)")
        }
    }
}
