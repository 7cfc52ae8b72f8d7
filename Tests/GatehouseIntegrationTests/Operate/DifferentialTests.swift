import Foundation
import GatehouseTesting
import NIOHTTP1
import Testing

/// `gatehouse test` and the live gateway run one stage list: the same table of requests, sent to a
/// running Gatehouse and evaluated by `gatehouse test` on the same files, gets the same status and
/// the same deciding stage on every row.
@Suite("explain and test agree with the live gateway")
struct DifferentialTests {
    /// One request of the table, and what both drivers must say about it. (The fixture function
    /// answers GET and POST; a request that reaches it is 200.)
    struct Row {
        var name: String
        var function: String
        var via = "ingress"
        var method: HTTPMethod = .GET
        var path = "/"
        var headers: [(String, String)] = []
        /// The service account of the caller's SVID (mesh rows).
        var caller: String?
        var token: Token = .none
        var status: Int
        /// The stage that ends the request; `none` when it reaches the function.
        var stage: String

        enum Token { case none, valid, tampered, expired, foreign }
    }

    static let client = "cluster.local/ns/default/sa/client"
    static let stranger = "cluster.local/ns/default/sa/stranger"

    static let rows: [Row] = [
        Row(name: "a function without policies", function: "open", status: 200, stage: "none"),
        Row(name: "any method reaches it", function: "open", method: .POST, path: "/x", status: 200, stage: "none"),
        Row(name: "a mesh caller reaches it", function: "open", via: "mesh", caller: client, status: 200, stage: "none"),
        Row(name: "an unknown host is 404 NR", function: "nobody", status: 404, stage: "route"),
        Row(name: "an unknown host through the mesh is 404 too", function: "nobody", via: "mesh", caller: client, status: 404, stage: "route"),
        Row(name: "the hop limit (16) refuses a 16th hop", function: "open", headers: [("x-gatehouse-hops", "16")], status: 508, stage: "hop_limit"),
        Row(name: "a 15th hop is fine", function: "open", headers: [("x-gatehouse-hops", "15")], status: 200, stage: "none"),
        Row(name: "hops count by the largest entry", function: "open", headers: [("x-gatehouse-hops", "3, 40")], status: 508, stage: "hop_limit"),
        Row(name: "a negative hop count is not a reset", function: "open", headers: [("x-gatehouse-hops", "-5")], status: 200, stage: "none"),
        Row(name: "a %00 in the path is refused before any stage", function: "open", path: "/a%00b", status: 400, stage: "request"),
        Row(name: "STRICT refuses a plaintext caller", function: "strict", status: 403, stage: "peer_authentication"),
        Row(name: "STRICT takes a mesh caller", function: "strict", via: "mesh", caller: client, status: 200, stage: "none"),
        Row(name: "STRICT takes any verified mesh caller", function: "strict", via: "mesh", caller: stranger, status: 200, stage: "none"),
        Row(name: "STRICT refuses plaintext writes too", function: "strict", method: .POST, status: 403, stage: "peer_authentication"),
        Row(name: "DISABLE takes plaintext", function: "plain", status: 200, stage: "none"),
        Row(name: "DISABLE takes plaintext writes", function: "plain", method: .POST, status: 200, stage: "none"),
        Row(name: "DISABLE refuses a mesh caller", function: "plain", via: "mesh", caller: client, status: 403, stage: "peer_authentication"),
        Row(name: "PERMISSIVE (the default) takes both", function: "limited", via: "mesh", caller: stranger, status: 200, stage: "none"),
        Row(name: "reads are allowed", function: "guarded", status: 200, stage: "none"),
        Row(name: "reads of any path are allowed", function: "guarded", path: "/public/x?y=1", status: 200, stage: "none"),
        Row(name: "DENY refuses a delete", function: "guarded", method: .DELETE, status: 403, stage: "authorization"),
        Row(name: "DENY wins over an ALLOW that matches", function: "guarded", via: "mesh", method: .DELETE, caller: client, status: 403, stage: "authorization"),
        Row(name: "no ALLOW rule matches a plain write", function: "guarded", method: .POST, status: 403, stage: "authorization"),
        Row(name: "the ops team may write", function: "guarded", method: .POST, headers: [("x-team", "ops")], status: 200, stage: "none"),
        Row(name: "another team may not", function: "guarded", method: .POST, headers: [("x-team", "dev")], status: 403, stage: "authorization"),
        Row(name: "the client principal may write", function: "guarded", via: "mesh", method: .POST, caller: client, status: 200, stage: "none"),
        Row(name: "another principal may not", function: "guarded", via: "mesh", method: .POST, caller: stranger, status: 403, stage: "authorization"),
        Row(name: "a dotted path is normalized before policies", function: "guarded", method: .POST, path: "/public/../admin", headers: [("x-team", "ops")], status: 403, stage: "authorization"),
        Row(name: "without a token, requestPrincipals do not match", function: "tokens", status: 403, stage: "authorization"),
        Row(name: "a valid token is verified and allowed", function: "tokens", token: .valid, status: 200, stage: "none"),
        Row(name: "a tampered token is 401", function: "tokens", token: .tampered, status: 401, stage: "jwt"),
        Row(name: "an expired token is 401", function: "tokens", token: .expired, status: 401, stage: "jwt"),
        Row(name: "a token of an unknown issuer is 401", function: "tokens", token: .foreign, status: 401, stage: "jwt"),
        Row(name: "a valid token through the mesh", function: "tokens", via: "mesh", caller: client, token: .valid, status: 200, stage: "none"),
        Row(name: "a route redirects", function: "routed", path: "/old", status: 301, stage: "route"),
        Row(name: "a route answers directly", function: "routed", path: "/down/now", status: 503, stage: "route"),
        Row(name: "a route reaches the function", function: "routed", path: "/app/x", status: 200, stage: "none"),
        Row(name: "no route fits: 404 NR", function: "routed", path: "/other", status: 404, stage: "route"),
        Row(name: "the routes bind to the mesh too", function: "routed", via: "mesh", path: "/old", caller: client, status: 301, stage: "route"),
        Row(name: "a mesh-only VirtualService is skipped by the ingress", function: "meshy", status: 200, stage: "none"),
        Row(name: "and applies to mesh callers", function: "meshy", via: "mesh", caller: client, status: 418, stage: "route"),
        Row(name: "a rate limit with tokens left passes", function: "limited", status: 200, stage: "none"),
        Row(name: "a rate limit counts mesh callers too", function: "limited", via: "mesh", caller: client, status: 200, stage: "none"),
    ]

    static func labelled(_ name: String) -> String {
        fixtureFunction(name: name).replacingOccurrences(of: "  namespace: default\n", with: "  namespace: default\n  labels: {app: \(name)}\n")
    }

    static func config(jwks: String) -> String {
        ["open", "strict", "plain", "guarded", "tokens", "limited", "routed", "meshy"].map(labelled).joined(separator: "---\n") + """
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: strict, namespace: default}
            spec: {selector: {matchLabels: {app: strict}}, mtls: {mode: STRICT}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: plain, namespace: default}
            spec: {selector: {matchLabels: {app: plain}}, mtls: {mode: DISABLE}}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: guarded-deny, namespace: default}
            spec:
              selector: {matchLabels: {app: guarded}}
              action: DENY
              rules:
              - to: [{operation: {methods: [DELETE]}}]
              - to: [{operation: {paths: [/admin]}}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: guarded-allow, namespace: default}
            spec:
              selector: {matchLabels: {app: guarded}}
              rules:
              - to: [{operation: {methods: [GET, HEAD]}}]
              - from: [{source: {principals: ["\(client)"]}}]
              - when: [{key: "request.headers[x-team]", values: [ops]}]
            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: tokens, namespace: default}
            spec:
              selector: {matchLabels: {app: tokens}}
              jwtRules:
              - issuer: https://issuer.test
                jwks: '\(jwks)'
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: tokens-allow, namespace: default}
            spec:
              selector: {matchLabels: {app: tokens}}
              rules:
              - from: [{source: {requestPrincipals: ["https://issuer.test/*"]}}]
            ---
            apiVersion: gatehouse.dev/v1
            kind: RateLimitPolicy
            metadata: {name: limited, namespace: default}
            spec:
              targetRefs: [{kind: Function, name: limited}]
              tokenBucket: {maxTokens: 1000, tokensPerFill: 1000, fillInterval: 1h}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: routed, namespace: default}
            spec:
              hosts: [routed]
              gateways: [gatehouse, mesh]
              http:
              - match: [{uri: {exact: /old}}]
                redirect: {uri: /new, redirectCode: 301}
              - match: [{uri: {prefix: /down}}]
                directResponse: {status: 503}
              - match: [{uri: {prefix: /app}}]
                route: [{destination: {host: routed}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: meshy, namespace: default}
            spec:
              hosts: [meshy]
              http:
              - directResponse: {status: 418}

            """
    }

    /// What the live gateway's answer says about the stage that ended it: the error body's code,
    /// or a route's own answer.
    static func stage(of response: RunningGatehouse.Response) -> String {
        switch response.json["code"] as? String {
        case "route_not_found": "route"
        case "hop_limit_exceeded": "hop_limit"
        case "mtls_required", "mtls_not_accepted": "peer_authentication"
        case "invalid_token": "jwt"
        case "denied_by_policy", "not_allowed_by_policy": "authorization"
        case "rate_limited", "concurrency_limited": "rate_limit"
        case "bad_request": "request"
        case .some(let other): other
        case nil: response.status == 200 ? "none" : "route"
        }
    }

    @Test("A table of requests: every stage's pass and refusal, each listener, JWT present/absent/invalid, VirtualService bindings")
    func tableAgrees() async throws {
        let issuer = try TestIssuer()
        let other = try TestIssuer(issuer: "https://other.test")
        let config = Self.config(jwks: try issuer.jwks())
        #expect(Self.rows.count >= 40)
        try await withGatehouse(config) { gatehouse in
            let client = try await gatehouse.issueSVID("spiffe://\(Self.client)")
            let stranger = try await gatehouse.issueSVID("spiffe://\(Self.stranger)")
            var cases = "config: [\(gatehouse.directory.appendingPathComponent("functions.yaml").path)]\ncases:\n"
            for row in Self.rows {
                let token: String? = switch row.token {
                case .none: nil
                case .valid: try issuer.token(subject: "ada")
                case .tampered: try issuer.tamperedToken()
                case .expired: try issuer.token(subject: "ada", claims: ["exp": Int(Date().timeIntervalSince1970) - 600])
                case .foreign: try other.token(subject: "ada")
                }
                var headers = row.headers
                if let token { headers.append(("authorization", "Bearer \(token)")) }
                let host = "\(row.function).default.\(gatehouse.domain)"
                let response: RunningGatehouse.Response
                if row.via == "mesh" {
                    let svid = row.caller == Self.client ? client : stranger
                    response = try await MeshClient.request(
                        gatehouse.mesh, host: host, path: row.path, method: row.method,
                        certificate: svid.appendingPathComponent("cert.pem"), key: svid.appendingPathComponent("key.pem"),
                        bundle: gatehouse.stateDirectory.appendingPathComponent("ca/root-cert.pem"), headers: headers)
                } else {
                    response = try await RunningGatehouse.send(url: gatehouse.ingress + row.path, host: host, method: row.method, headers: headers, body: nil)
                }
                #expect(response.status == row.status, "live: \(row.name): \(response.body)")
                #expect(Self.stage(of: response) == row.stage, "live: \(row.name): \(response.body)")

                var request = "{method: \(row.method.rawValue), host: \(host), path: \"\(row.path)\", via: \(row.via), sourceIP: 127.0.0.1"
                if !row.headers.isEmpty { request += ", headers: {" + row.headers.map { "\($0.0): \"\($0.1)\"" }.joined(separator: ", ") + "}" }
                if let caller = row.caller, row.via == "mesh" { request += ", sourcePrincipal: \(caller)" }
                if let token { request += ", jwt: \(token)" }
                cases += "- name: \"\(row.name)\"\n  request: \(request)}\n  expect: {status: \(row.status), stage: \(row.stage)}\n"
            }
            let file = gatehouse.directory.appendingPathComponent("differential.yaml")
            try cases.write(to: file, atomically: true, encoding: .utf8)
            let result = try await gatehouse.cli(["test", file.path])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("\(Self.rows.count) passed, 0 failed"), "\(result.stdout)")
        }
    }

    @Test("explain against the running gateway reports its buckets without spending them, and agrees when one is empty")
    func rateLimitState() async throws {
        let config = fixtureFunction(name: "fn") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: RateLimitPolicy
            metadata: {name: two, namespace: default}
            spec:
              targetRefs: [{kind: Function, name: fn}]
              tokenBucket: {maxTokens: 2, tokensPerFill: 2, fillInterval: 1h}

            """
        try await withGatehouse(config) { gatehouse in
            func explained() async throws -> [String: Any] {
                let result = try await gatehouse.cli(["explain", "fn", "-o", "json"])
                #expect(result.status == 0, "\(result.stderr)")
                return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            }
            func tokens(_ explanation: [String: Any]) -> Int? {
                let stage = (explanation["stages"] as? [[String: Any]])?.first { $0["stage"] as? String == "rate_limit" }
                let policies = (stage?["details"] as? [String: Any])?["policies"] as? [[String: Any]]
                return policies?.first?["tokens"] as? Int
            }
            // Explaining spends nothing: twice, and the bucket is still full.
            #expect(tokens(try await explained()) == 2)
            #expect(tokens(try await explained()) == 2)
            #expect(try await gatehouse.request("fn").status == 200)
            #expect(tokens(try await explained()) == 1)
            #expect(try await gatehouse.request("fn").status == 200)
            let empty = try await explained()
            #expect(empty["status"] as? Int == 429)
            #expect(empty["decidingStage"] as? String == "rate_limit")
            #expect(tokens(empty) == 0)
            let refused = try await gatehouse.request("fn")
            #expect(refused.status == 429 && refused.errorCode == "rate_limited")
        }
    }

    @Test("explain names the VirtualService that binds a host to the other kind of traffic; validate warns about it")
    func bindingNotice() async throws {
        let config = fixtureFunction(name: "ratings") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ratings, namespace: default}
            spec:
              hosts: [ratings]
              http:
              - route: [{destination: {host: ratings}}]
                headers: {response: {set: {x-routed: "yes"}}}

            """
        try await withGatehouse(config) { gatehouse in
            let result = try await gatehouse.cli(["explain", "ratings", "--via", "ingress"])
            #expect(result.stdout.contains("VirtualService default/ratings covers this host for mesh callers only"), "\(result.stdout)")
            #expect(result.stdout.contains("this request came through the ingress"), "\(result.stdout)")
            let live = try await gatehouse.request("ratings")
            #expect(live.status == 200 && live.headers.first(name: "x-routed") == nil, "the ingress skips the mesh-only routes")

            let validate = try await RunningGatehouse.runCLI(["validate", "-f", gatehouse.directory.appendingPathComponent("functions.yaml").path])
            #expect(validate.stdout.contains("VirtualService default/ratings routes ratings for mesh callers only"), "\(validate.stdout)\(validate.stderr)")
        }
    }
}
