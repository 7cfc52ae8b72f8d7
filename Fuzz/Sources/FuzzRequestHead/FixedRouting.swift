import GatehouseConfig
import GatehouseCore
import GatehouseListener
import GatehouseRouting
import NIOHTTP1

/// Routing as the gateway builds it (`RequestPipeline.hostRouting`) from one small fixed config:
/// exact, function-named and wildcard hosts, header, prefix and regex matches, a redirect, a direct
/// response, rewrites and a weighted split.
enum FixedRouting {
    private static let yaml = """
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: hello, namespace: default}
        spec: {process: {command: ["python3", "hello.py"]}}
        ---
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: hello-canary, namespace: default}
        spec: {process: {command: ["python3", "hello.py"]}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: hello, namespace: default}
        spec:
          hosts: [hello, api.example.com, "*.example.com"]
          gateways: [public, mesh]
          http:
          - match: [{headers: {x-canary: {exact: "1"}}}]
            route: [{destination: {host: hello-canary}}]
          - match: [{uri: {prefix: /docs}}]
            redirect: {uri: /guide, redirectCode: 301}
          - match: [{uri: {exact: /admin}}]
            directResponse: {status: 503, body: {string: "down"}}
          - match: [{uri: {regex: "^/v[0-9]+/([^/]+)/(.*)$"}}]
            rewrite: {uriRegexRewrite: {match: "^/v[0-9]+/([^/]+)/(.*)$", rewrite: "/\\\\2/\\\\1"}}
            route: [{destination: {host: hello}}]
          - match: [{uri: {prefix: /api/v1/}}]
            rewrite: {uri: /}
            route: [{destination: {host: hello}}]
          - route:
            - {destination: {host: hello}, weight: 90}
            - {destination: {host: hello-canary}, weight: 10}
        """

    private static let stage: RouteByHost = {
        let snapshot: ConfigSnapshot
        do throws(ConfigError) {
            snapshot = try ConfigLoader.load(yaml: yaml, file: "/fuzz/routes.yaml")
        } catch {
            fatalError("the fixed routing config does not load: \(error.diagnostics)")
        }
        let router = HostRouter(
            functions: snapshot.functions, routing: snapshot.routing, domain: snapshot.mesh.domain,
            trustDomain: snapshot.mesh.trustDomain)
        let table = RouteTable(
            services: snapshot.virtualServices, functions: snapshot.functions, targets: router.targets,
            domain: snapshot.mesh.domain)
        return RouteByHost(router: router, table: table)
    }()

    /// Routes a checked head on the ingress and on the mesh listener; an upstream path it sets is
    /// what the function is sent, so it must be origin-form.
    static func route(_ head: HTTPRequestHead) {
        for mesh in [false, true] {
            var record = RequestRecord(
                requestId: "fuzz", startWallNanos: 0, start: .now, method: head.method.rawValue, path: head.uri,
                httpProtocol: "HTTP/1.1", authority: head.headers.first(name: "host") ?? "")
            record.viaMeshListener = mesh
            _ = stage.process(&record, headers: head.headers)
            for path in [record.upstreamPath, record.routedPath].compactMap({ $0 }) {
                precondition(path.hasPrefix("/"), "routing produced a path that is not origin-form: \(path)")
            }
        }
    }
}
