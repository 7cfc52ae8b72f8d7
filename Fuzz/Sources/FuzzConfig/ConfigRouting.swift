import GatehouseConfig
import GatehouseCore
import GatehouseRouting

/// Routes a few fixed requests through whatever routing a fuzzed config compiles to: regexes,
/// rewrites, redirects and weights come from the input, so they must never trap.
enum ConfigRouting {
    private static let samples: [(method: String, host: String, path: String)] = [
        ("GET", "hello.default.localhost", "/"),
        ("GET", "hello", "/api/v1/items?x=1"),
        ("POST", "api.example.com:8443", "/docs/a/../b"),
        ("GET", "a.example.com", "/%2e%2e/admin"),
        ("DELETE", "[::1]:80", "/v2/x/y"),
    ]

    static func routeSamples(_ snapshot: ConfigSnapshot) {
        let router = HostRouter(
            functions: snapshot.functions, routing: snapshot.routing, domain: snapshot.mesh.domain,
            trustDomain: snapshot.mesh.trustDomain)
        let table = RouteTable(
            services: snapshot.virtualServices, functions: snapshot.functions, targets: router.targets,
            domain: snapshot.mesh.domain)
        let stage = RouteByHost(router: router, table: table)
        for sample in samples {
            for mesh in [false, true] {
                var record = RequestRecord(
                    requestId: "fuzz", startWallNanos: 0, start: .now, method: sample.method, path: sample.path,
                    httpProtocol: "HTTP/1.1", authority: sample.host)
                record.viaMeshListener = mesh
                _ = stage.process(&record, headers: SampleHeaders())
            }
        }
    }
}

/// A request with `x-canary: 1` and nothing else, so header matches are exercised too.
private struct SampleHeaders: RequestHeaders {
    func first(_ name: String) -> String? { name.lowercased() == "x-canary" ? "1" : nil }
    func joined(_ name: String) -> String? { first(name) }
}
