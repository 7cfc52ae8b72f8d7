import Foundation
import GatehouseConfig
import GatehouseCore
import Testing

@testable import GatehouseRouting

/// Routes a request through the VirtualServices in `yaml` (functions hello, hello-v2, api, legacy in
/// `default`) as the ingress would, and says where it went.
struct Routes {
    let stage: RouteByHost

    init(_ yaml: String) throws {
        let functions = ["hello", "hello-v2", "api", "legacy"].map { name in
            "apiVersion: gatehouse.dev/v1\nkind: Function\nmetadata: {name: \(name)}\nspec: {process: {command: [\"./f\"]}}\n"
        }.joined(separator: "---\n")
        let snapshot = try ConfigLoader.load(yaml: functions + "---\n" + yaml, file: "routes.yaml")
        let router = HostRouter(functions: snapshot.functions, routing: snapshot.routing, domain: "localhost")
        stage = RouteByHost(
            router: router, table: RouteTable(services: snapshot.virtualServices, functions: snapshot.functions, targets: router.targets, domain: "localhost"))
    }

    struct Headers: RequestHeaders {
        let values: [String: String]
        func first(_ name: String) -> String? { values[name.lowercased()] }
        func joined(_ name: String) -> String? { values[name.lowercased()] }
    }

    /// The record after routing, the error when the request was refused, and the reply when the
    /// route answered it itself.
    func route(
        _ method: String = "GET", _ target: String, host: String = "hello.default.localhost", headers: [String: String] = [:], mesh: Bool = false
    ) -> (record: RequestRecord, error: GatehouseError?, reply: GatewayReply?) {
        var record = RequestRecord(
            requestId: "r", startWallNanos: 0, start: .now, method: method, path: target, httpProtocol: "HTTP/1.1", authority: host)
        record.viaMeshListener = mesh
        switch stage.process(&record, headers: Headers(values: headers)) {
        case .reject(let error): return (record, error, nil)
        case .respond(let reply): return (record, nil, reply)
        default: return (record, nil, nil)
        }
    }

    /// `NAMESPACE/NAME` of the function, the error's code, or the reply's details.
    func target(_ method: String = "GET", _ path: String, host: String = "hello.default.localhost", headers: [String: String] = [:], mesh: Bool = false) -> String {
        let (record, error, reply) = route(method, path, host: host, headers: headers, mesh: mesh)
        return error.map { "\($0.code)" } ?? reply?.details ?? record.destination?.key.description ?? "-"
    }
}

@Suite("VirtualService routing")
struct VirtualServiceRoutingTests {
    static let precedence = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: hello}
        spec:
          hosts: [hello]
          gateways: [public]
          http:
          - name: exact-admin
            match: [{uri: {exact: /admin}}]
            route: [{destination: {host: legacy}}]
          - name: beta-users
            match: [{headers: {x-beta: {exact: "1"}}, uri: {prefix: /}}]
            route: [{destination: {host: hello-v2}}]
          - name: versions
            match: [{uri: {regex: "/v[0-9]+/.*"}}]
            route: [{destination: {host: api}}]
          - name: posts-or-query
            match: [{method: {exact: POST}}, {queryParams: {debug: {exact: "true"}}}]
            route: [{destination: {host: legacy}}]
          - name: not-mobile
            match: [{withoutHeaders: {user-agent: {prefix: Mobile}}, uri: {prefix: /app}}]
            route: [{destination: {host: hello-v2}}]
          - name: case-blind
            match: [{uri: {prefix: /Docs}, ignoreUriCase: true}]
            route: [{destination: {host: api}}]
          - name: rest
            match: [{uri: {prefix: /}}]
            route: [{destination: {host: hello}}]
        """

    @Test("First match wins, each condition kind as Istio defines it", arguments: [
        ("GET", "/admin", [String: String](), "default/legacy"),
        ("GET", "/admin/x", [:], "default/hello"),
        ("GET", "/admin", ["x-beta": "1"], "default/legacy"),
        ("GET", "/anything", ["x-beta": "1"], "default/hello-v2"),
        ("GET", "/anything", ["x-beta": "2"], "default/hello"),
        ("GET", "/v2/items", [:], "default/api"),
        ("GET", "/v2", [:], "default/hello"),
        ("GET", "/xv2/items", [:], "default/hello"),
        ("POST", "/x", [:], "default/legacy"),
        ("GET", "/x?debug=true", [:], "default/legacy"),
        ("GET", "/x?debug=false", [:], "default/hello"),
        ("GET", "/app/home", ["user-agent": "Mobile Safari"], "default/hello"),
        ("GET", "/app/home", ["user-agent": "curl"], "default/hello-v2"),
        ("GET", "/app/home", [:], "default/hello-v2"),
        ("GET", "/docs/intro", [:], "default/api"),
        ("GET", "/DOCS/intro", [:], "default/api"),
    ])
    func precedence(_ method: String, _ path: String, _ headers: [String: String], _ expected: String) throws {
        #expect(try Routes(Self.precedence).target(method, path, headers: headers) == expected)
    }

    @Test("Routes match the normalized path, and the function gets it: dot segments cannot slip past a route")
    func normalizedPaths() throws {
        let routes = try Routes("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: guard}
            spec:
              hosts: [hello]
              gateways: [public]
              http:
              - match: [{uri: {prefix: /admin}}]
                directResponse: {status: 403}
              - match: [{uri: {prefix: /}, sourceLabels: {app: web}}]
                route: [{destination: {host: legacy}}]
              - match: [{port: 8443, scheme: {exact: https}}, {sourceNamespace: shop}, {gateways: [mesh]}]
                route: [{destination: {host: api}}]
              - route: [{destination: {host: hello}}]
            """)
        #expect(routes.route("GET", "/x/../admin/users").reply?.status == 403)
        #expect(routes.route("GET", "/%61dmin").reply?.status == 403, "escapes of unreserved characters decoded")
        let (record, _, _) = routes.route("GET", "/a/./b?q=1")
        #expect(record.path.value == "/a/b?q=1")
        #expect(record.destination?.key.name == "hello", "a block with sourceLabels (not checked yet) never matches")
        var https = RequestRecord(requestId: "r", startWallNanos: 0, start: .now, method: "GET", path: "/", httpProtocol: "HTTP/1.1", authority: "hello.default.localhost")
        (https.destinationPort, https.overTLS) = (8443, true)
        _ = routes.stage.process(&https, headers: Routes.Headers(values: [:]))
        #expect(https.destination?.key.name == "api", "port and scheme")
        var shop = RequestRecord(requestId: "r", startWallNanos: 0, start: .now, method: "GET", path: "/", httpProtocol: "HTTP/1.1", authority: "hello.default.localhost")
        shop.peer = PeerIdentity(principal: "cluster.local/ns/shop/sa/cart", uri: "spiffe://cluster.local/ns/shop/sa/cart", certificateHash: "")
        _ = routes.stage.process(&shop, headers: Routes.Headers(values: [:]))
        #expect(shop.destination?.key.name == "api", "sourceNamespace from the verified caller")
    }

    @Test("A host with a VirtualService and no fitting route is 404 NR; other hosts keep the NAME.NAMESPACE convention")
    func noRoute() throws {
        let routes = try Routes("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: hello}
            spec:
              hosts: [hello, "*.example.com"]
              gateways: [public]
              http:
              - match: [{uri: {prefix: /api}}]
                route: [{destination: {host: api}}]
            """)
        let (record, error, _) = routes.route("GET", "/other")
        #expect(error?.code == .routeNotFound && record.responseFlags.contains(.noRoute))
        #expect(routes.target("GET", "/api/x", host: "shop.example.com:8080") == "default/api")
        #expect(routes.target("GET", "/other", host: "legacy.default.localhost") == "default/legacy")
        #expect(routes.route("GET", "/api/x").record.routeName == "default/hello.0")
    }

    @Test("gateways: without it the routes are mesh traffic's; naming a gateway binds them to the ingress")
    func gateways() throws {
        let routes = try Routes("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: mesh-only}
            spec:
              hosts: [hello]
              http: [{route: [{destination: {host: hello-v2}}]}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: both}
            spec:
              hosts: [api]
              gateways: [public, mesh]
              http: [{route: [{destination: {host: legacy}}]}]
            """)
        #expect(routes.target("GET", "/", mesh: true) == "default/hello-v2")
        #expect(routes.target("GET", "/", mesh: false) == "default/hello")
        #expect(routes.target("GET", "/", host: "api.default.localhost", mesh: true) == "default/legacy")
        #expect(routes.target("GET", "/", host: "api.default.localhost", mesh: false) == "default/legacy")
    }

    @Test("Weights split traffic within a few percent over 10,000 requests")
    func weights() throws {
        let routes = try Routes("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: canary}
            spec:
              hosts: [hello]
              gateways: [public]
              http:
              - route:
                - {destination: {host: hello}, weight: 90}
                - {destination: {host: hello-v2}, weight: 10}
            """)
        var counts: [String: Int] = [:]
        for _ in 0..<10_000 { counts[routes.target("GET", "/"), default: 0] += 1 }
        let canary = Double(counts["default/hello-v2", default: 0]) / 10_000
        #expect(abs(canary - 0.10) < 0.02, "\(counts)")
        #expect(counts.keys.sorted() == ["default/hello", "default/hello-v2"])
    }

    @Test("Rewrite, redirect, direct response, header operations and the route timeout")
    func outcomes() throws {
        let routes = try Routes("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shapes}
            spec:
              hosts: [hello]
              gateways: [public]
              http:
              - match: [{uri: {prefix: /old/}}]
                rewrite: {uri: /new/, authority: hello.internal}
                headers:
                  request: {set: {x-route: old}, add: {x-tag: a}, remove: [x-debug]}
                  response: {set: {cache-control: no-store}}
                timeout: 2s
                route: [{destination: {host: hello}}]
              - match: [{uri: {prefix: /users/}}]
                rewrite: {uriRegexRewrite: {match: "^/users/([^/]+)/posts", rewrite: "/posts?user=\\\\1"}}
                route: [{destination: {host: api}}]
              - match: [{uri: {exact: /moved}}]
                redirect: {uri: /here, redirectCode: 308}
              - match: [{uri: {exact: /down}}]
                directResponse: {status: 503, body: {string: "maintenance"}}
            """)
        let (rewritten, _, _) = routes.route("GET", "/old/page?x=1")
        #expect(rewritten.path.value == "/new/page?x=1" && rewritten.path.beforeRewrite == "/old/page?x=1")
        #expect(rewritten.upstreamHeaders.set.contains { $0.name == "host" && $0.value == "hello.internal" })
        #expect(rewritten.upstreamHeaders.set.contains { $0.name == "x-route" && $0.value == "old" })
        #expect(rewritten.upstreamHeaders.add.contains { $0.name == "x-tag" } && rewritten.upstreamHeaders.remove == ["x-debug"])
        #expect(rewritten.responseHeaders.set.contains { $0.name == "cache-control" })
        #expect(rewritten.routeTimeout == .seconds(2))
        #expect(routes.route("GET", "/users/ada/posts").record.path.value == "/posts?user=ada")

        let (_, _, redirect) = routes.route("GET", "/moved?a=b", host: "hello.default.localhost:8080")
        #expect(redirect?.details == "redirected" && redirect?.status == 308)
        #expect(redirect?.headers.first?.value == "http://hello.default.localhost:8080/here?a=b")
        let (_, _, direct) = routes.route("GET", "/down")
        #expect(direct?.status == 503 && direct?.body == "maintenance")
    }

    @Test("explain's trace names the route taken and why earlier ones did not fit")
    func trace() throws {
        let routes = try Routes(Self.precedence)
        var record = RequestRecord(
            requestId: "r", startWallNanos: 0, start: .now, method: "GET", path: "/v3/x", httpProtocol: "HTTP/1.1", authority: "hello.default.localhost")
        let explained = routes.stage.explain(&record, headers: Routes.Headers(values: [:]))
        guard case .object(let fields)? = explained.details["routes"] else { Issue.record("no routes in \(explained.details)"); return }
        let trace = try JSONDecoder().decode(RouteTrace.self, from: JSONEncoder().encode(DetailValue.object(fields)))
        #expect(trace.matched == "versions" && record.destination?.key.name == "api")
        #expect(trace.skipped.map(\.route) == ["exact-admin", "beta-users"])
        #expect(trace.skipped[0].misses == ["uri /v3/x is not exact \"/admin\""])
        #expect(trace.skipped[1].misses == ["header x-beta is absent"])
    }
}

@Suite("VirtualService CORS and mirror")
struct CorsAndMirrorTests {
    static let routes = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web}
        spec:
          hosts: [hello]
          gateways: [public]
          http:
          - corsPolicy:
              allowOrigins: [{exact: "https://app.example.com"}, {regex: "https://.*\\\\.preview\\\\.example\\\\.com"}]
              allowMethods: [GET, POST]
              allowHeaders: [content-type]
              exposeHeaders: [x-trace]
              maxAge: 24h
              allowCredentials: true
            mirror: {host: hello-v2}
            mirrorPercentage: {value: 100}
            route: [{destination: {host: hello}}]
        """

    @Test("An allowed origin's preflight is answered by the gateway; its requests get CORS headers; others pass untouched")
    func cors() throws {
        let routes = try Routes(Self.routes)
        let preflight = routes.route("OPTIONS", "/api", headers: ["origin": "https://app.example.com", "access-control-request-method": "POST"])
        #expect(preflight.reply?.status == 200 && preflight.reply?.details == "cors_preflight")
        let headers = Dictionary(uniqueKeysWithValues: (preflight.reply?.headers ?? []).map { ($0.name, $0.value) })
        #expect(headers["access-control-allow-origin"] == "https://app.example.com")
        #expect(headers["access-control-allow-methods"] == "GET,POST" && headers["access-control-max-age"] == "86400")
        #expect(headers["access-control-allow-credentials"] == "true")

        let simple = routes.route("GET", "/api", headers: ["origin": "https://pr-7.preview.example.com"])
        #expect(simple.error == nil)
        #expect(simple.record.responseHeaders.set.contains { $0.name == "access-control-allow-origin" && $0.value == "https://pr-7.preview.example.com" })
        #expect(simple.record.responseHeaders.set.contains { $0.name == "access-control-expose-headers" && $0.value == "x-trace" })

        let stranger = routes.route("OPTIONS", "/api", headers: ["origin": "https://evil.example", "access-control-request-method": "POST"])
        #expect(stranger.error == nil, "not answered by the gateway: the function sees it")
        #expect(!stranger.record.responseHeaders.set.contains { $0.name.hasPrefix("access-control") })
    }

    @Test("mirror names the function that gets the copy")
    func mirror() throws {
        let (record, _, _) = try Routes(Self.routes).route("GET", "/")
        #expect(record.mirrors.map(\.key.name) == ["hello-v2"] && record.destination?.key.name == "hello")
    }

    @Test("mirrors: each gets its share of copies (100 % always, 0 % never, 30 % ± 3 % over 5,000)")
    func mirrors() throws {
        let routes = try Routes("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web}
            spec:
              hosts: [hello]
              http:
              - route: [{destination: {host: hello}}]
                mirrors:
                - {destination: {host: hello-v2}}
                - {destination: {host: api}, percentage: {value: 0}}
                - {destination: {host: legacy}, percentage: {value: 30}}
            """)
        var legacy = 0
        for _ in 0..<5000 {
            let names = routes.route("GET", "/", mesh: true).record.mirrors.map(\.key.name)
            #expect(names.first == "hello-v2" && !names.contains("api"))
            if names.contains("legacy") { legacy += 1 }
        }
        #expect(abs(Double(legacy) / 5000 - 0.30) < 0.03, "\(legacy)")
    }
}
