import Benchmark
import GatehouseAuthorization
import GatehouseCore

/// How long one authorization decision takes with 10, 1,000 and 10,000 AuthorizationPolicies in the
/// mesh, and how long building the per-function index takes (paid once per apply).
///
/// The mesh: 100 namespaces with one function each, policies spread evenly over them (each with a
/// selector on its namespace's function, two rules: methods + paths, and a header condition), plus
/// one root-namespace DENY that applies everywhere. The request reaches one function and matches
/// none of the ALLOW rules until the last, so every applicable rule is checked; the denied request
/// matches none, so the decision also writes why.
let benchmarks: @Sendable () -> Void = {
    for count in [10, 1_000, 10_000] {
        let mesh = Mesh(policies: count)
        Benchmark(
            "decide with \(count) policies in the mesh",
            configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], maxDuration: .seconds(2))
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(mesh.engine.decide(mesh.request, function: mesh.target))
            }
        }
        Benchmark(
            "deny (no ALLOW matches) with \(count) policies in the mesh",
            configuration: .init(metrics: [.wallClock, .mallocCountTotal, .throughput], maxDuration: .seconds(2))
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(mesh.engine.decide(mesh.deniedRequest, function: mesh.target))
            }
        }
        Benchmark(
            "index \(count) policies for 100 functions",
            configuration: .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(2), maxIterations: 50)
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(AuthorizationEngine(policies: mesh.policies, functions: mesh.functions, rootNamespace: "istio-system"))
            }
        }
    }
}

struct Mesh {
    let policies: [AuthorizationPolicySpec]
    let functions: [FunctionSpec]
    let engine: AuthorizationEngine
    let request: AuthorizationRequest
    let deniedRequest: AuthorizationRequest
    let target: FunctionKey

    init(policies count: Int) {
        functions = (0..<100).map { index in
            FunctionSpec(name: "fn\(index)", namespace: "ns\(index)", labels: ["app": "fn\(index)"], process: .init(command: ["x"]))
        }
        var policies: [AuthorizationPolicySpec] = (0..<count - 1).map { index in
            let namespace = index % 100
            var read = AuthorizationPolicySpec.Operation()
            read.methods = .init(["GET", "HEAD"])
            read.paths = .init(["/api/v\(index)/*", "/public/{*}/items"])
            var write = AuthorizationPolicySpec.Operation()
            write.methods = .init(["POST"])
            write.paths = .init(["/api/v\(index)/orders"])
            return AuthorizationPolicySpec(
                namespace: "ns\(namespace)", name: "policy-\(index)", selector: ["app": "fn\(namespace)"], action: .allow,
                rules: [
                    .init(to: [read]),
                    .init(to: [write], when: [.init(key: "request.headers[x-team]", match: .init(["team-\(index)"]))]),
                ])
        }
        var everywhere = AuthorizationPolicySpec.Operation()
        everywhere.paths = .init(["/admin*"])
        policies.append(AuthorizationPolicySpec(namespace: "istio-system", name: "no-admin", action: .deny, rules: [.init(to: [everywhere])]))
        self.policies = policies
        engine = AuthorizationEngine(policies: policies, functions: functions, rootNamespace: "istio-system")
        target = FunctionKey(namespace: "ns7", name: "fn7")
        let last = (0..<count - 1).last { $0 % 100 == 7 } ?? 7
        request = AuthorizationRequest(
            method: "POST", host: "fn7.ns7.localhost", path: "/api/v\(last)/orders", destinationPort: 8080,
            sourceIP: "10.0.0.1", headers: ["x-team": "team-\(last)"])
        var denied = request
        denied.headers = ["x-team": "nobody"]
        deniedRequest = denied
    }
}
