import Benchmark
import GatehouseAuthentication
import GatehouseCore
import GatehouseOutbound
import GatehouseTesting
import Logging
import NIOPosix

/// What RequestAuthentication costs per request: a signature check (RS256, ES256, EdDSA) when the
/// token is new, a cache lookup when it was seen before, and nothing much without a token.
/// Inline keys, so no network is involved; the token is sent as `Authorization: Bearer`.
let benchmarks: @Sendable () -> Void = {
    for algorithm in [TestIssuer.Algorithm.rs256, .es256, .edDSA] {
        let issuer = try! TestIssuer(algorithm: algorithm)
        let token = try! issuer.token(subject: "alice", claims: ["aud": "api", "groups": ["dev"]])
        let headers = Headers(authorization: "Bearer " + token)
        let rule = RequestAuthenticationSpec.JWTRule(issuer: issuer.issuer, audiences: ["api"], jwks: try! issuer.jwks())

        let uncached = authenticator(rule, cache: VerifiedTokenCache(capacity: 0))
        let cached = authenticator(rule, cache: VerifiedTokenCache())
        Benchmark(
            "\(algorithm.rawValue) token, verified every time (no cache)",
            configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], maxDuration: .seconds(2))
        ) { benchmark in
            let checker = uncached
            await warm(checker, headers)  // loads the keys the first time
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                guard case .verify(let pending) = checker.start(function: function.key, headers: headers, query: nil) else { fatalError("cached") }
                blackHole(await checker.verify(pending))
            }
        }
        Benchmark(
            "\(algorithm.rawValue) token, seen before (cache hit)",
            configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], maxDuration: .seconds(2))
        ) { benchmark in
            let checker = cached
            await warm(checker, headers)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                guard case .finished(let result) = checker.start(function: function.key, headers: headers, query: nil) else { fatalError("missed") }
                blackHole(result)
            }
        }
    }
    let issuer = try! TestIssuer()
    let rule = RequestAuthenticationSpec.JWTRule(issuer: issuer.issuer, jwks: try! issuer.jwks())
    let checker = authenticator(rule, cache: VerifiedTokenCache())
    Benchmark("no token", configuration: .init(metrics: [.wallClock, .mallocCountTotal, .throughput], maxDuration: .seconds(2))) { benchmark in
        let headers = Headers(authorization: nil)
        for _ in benchmark.scaledIterations {
            blackHole(checker.start(function: function.key, headers: headers, query: nil))
        }
    }
}

let function = FunctionSpec(name: "fn", namespace: "default", process: .init(command: ["x"]))

/// Never used (the keys are inline), but a key directory needs one; lives as long as the process.
let benchClient = ControlPlaneClient(eventLoopGroup: MultiThreadedEventLoopGroup(numberOfThreads: 1))

/// Built once, outside the measured closures; keys load on first use (no background task to
/// disturb the measurement).
func authenticator(_ rule: RequestAuthenticationSpec.JWTRule, cache: VerifiedTokenCache) -> JWTAuthenticator {
    JWTAuthenticator(
        policies: [RequestAuthenticationSpec(namespace: "default", name: "jwt", jwtRules: [rule])], functions: [function],
        rootNamespace: "istio-system",
        directory: KeyDirectory(client: benchClient, cache: cache, prefetch: false, logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }))
}

func warm(_ checker: JWTAuthenticator, _ headers: Headers) async {
    if case .verify(let pending) = checker.start(function: function.key, headers: headers, query: nil) {
        _ = await checker.verify(pending)
    }
}

struct Headers: RequestHeaders {
    let authorization: String?
    func first(_ name: String) -> String? { name == "authorization" ? authorization : nil }
    func joined(_ name: String) -> String? { first(name) }
}
