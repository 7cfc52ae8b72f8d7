import Benchmark
import GatehouseAuthentication
import GatehouseCore
import GatehouseTesting
import Logging

/// What RequestAuthentication costs per request: a signature check (RS256, ES256, EdDSA) when the
/// token is new, a cache lookup when it was seen before, and nothing much without a token.
/// Inline keys, so no network is involved; the token is sent as `Authorization: Bearer`.
let benchmarks: @Sendable () -> Void = {
    for algorithm in [TestIssuer.Algorithm.rs256, .es256, .edDSA] {
        let issuer = try! TestIssuer(algorithm: algorithm)
        let token = try! issuer.token(subject: "alice", claims: ["aud": "api", "groups": ["dev"]])
        let headers = Headers(authorization: "Bearer " + token)
        let rule = RequestAuthenticationSpec.JWTRule(issuer: issuer.issuer, audiences: ["api"], jwks: try! issuer.jwks())

        Benchmark(
            "\(algorithm.rawValue) token, verified every time (no cache)",
            configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], maxDuration: .seconds(2))
        ) { benchmark in
            let checker = authenticator(rule, cache: VerifiedTokenCache(capacity: 0))
            for _ in benchmark.scaledIterations {
                guard case .verify(let pending) = checker.start(function: function.key, headers: headers, query: nil) else { fatalError("cached") }
                blackHole(await checker.verify(pending))
            }
        }
        Benchmark(
            "\(algorithm.rawValue) token, seen before (cache hit)",
            configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], maxDuration: .seconds(2))
        ) { benchmark in
            let checker = authenticator(rule, cache: VerifiedTokenCache())
            if case .verify(let pending) = checker.start(function: function.key, headers: headers, query: nil) {
                _ = await checker.verify(pending)
            }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                guard case .finished(let result) = checker.start(function: function.key, headers: headers, query: nil) else { fatalError("missed") }
                blackHole(result)
            }
        }
    }
    let issuer = try! TestIssuer()
    let rule = RequestAuthenticationSpec.JWTRule(issuer: issuer.issuer, jwks: try! issuer.jwks())
    Benchmark("no token", configuration: .init(metrics: [.wallClock, .mallocCountTotal, .throughput], maxDuration: .seconds(2))) { benchmark in
        let checker = authenticator(rule, cache: VerifiedTokenCache())
        let headers = Headers(authorization: nil)
        for _ in benchmark.scaledIterations {
            blackHole(checker.start(function: function.key, headers: headers, query: nil))
        }
    }
}

let function = FunctionSpec(name: "fn", namespace: "default", process: .init(command: ["x"]))

func authenticator(_ rule: RequestAuthenticationSpec.JWTRule, cache: VerifiedTokenCache) -> JWTAuthenticator {
    JWTAuthenticator(
        policies: [RequestAuthenticationSpec(namespace: "default", name: "jwt", jwtRules: [rule])], functions: [function],
        rootNamespace: "istio-system", directory: KeyDirectory(cache: cache, logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }))
}

struct Headers: RequestHeaders {
    let authorization: String?
    func first(_ name: String) -> String? { name == "authorization" ? authorization : nil }
    func joined(_ name: String) -> String? { first(name) }
}
