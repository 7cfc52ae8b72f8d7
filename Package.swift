// swift-tools-version: 6.1
import PackageDescription

import class Foundation.ProcessInfo

// Modules follow the request path (docs/architecture.md):
// listener → route → invoke, with telemetry around it and the gateway ordering the stages.
let package = Package(
    name: "Gatehouse",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gatehouse", targets: ["gatehouse"]),
        .library(name: "GatehouseGateway", targets: ["GatehouseGateway"]),
        .library(name: "GatehouseTesting", targets: ["GatehouseTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.90.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.25.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // jwt-kit 5.8 resolves only with swift-crypto 4.
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.38.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.31.0"),
        // The shared config store of a cluster (PostgresConfigStore).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        // Resources, durations, the per-request record, errors: no I/O.
        .target(name: "GatehouseCore"),
        // YAML → resources with file:line:field diagnostics; immutable snapshots.
        .target(name: "GatehouseConfig", dependencies: [
            "GatehouseCore",
            .product(name: "Yams", package: "Yams"),
        ]),
        // Applied resources and their history, in SQLite in the state directory (or PostgreSQL,
        // shared by several nodes); one seam for all state.
        .target(name: "GatehouseStore", dependencies: [
            "GatehouseCore",
            .product(name: "GRDB", package: "GRDB.swift"),
            // SHA-256 for the audit log's hash chain.
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // ① Sockets, TLS, HTTP/1.1 and HTTP/2 for the ingress and mesh listeners.
        // The caller's side of a request, whatever carries it: what the pipeline and the forwarder see.
        .target(name: "GatehouseExchange", dependencies: [
            "GatehouseCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .target(name: "GatehouseListener", dependencies: [
            "GatehouseCore", "GatehouseExchange",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
        ]),
        // ③ AuthorizationPolicy with Istio's semantics; decisions that say why.
        .target(name: "GatehouseAuthorization", dependencies: [
            "GatehouseCore", "GatehouseOutbound",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // Workload identity: the CA, X.509-SVIDs, verifying a peer's SVID.
        .target(name: "GatehouseIdentity", dependencies: [
            "GatehouseCore",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
        ]),
        // Calls Gatehouse makes itself (JWKS, OIDC discovery, external authorizers): bounded, no redirects.
        .target(name: "GatehouseOutbound", dependencies: [
            "GatehouseCore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // ② RequestAuthentication: JWTs verified against issuers' keys (JWKS, OIDC discovery).
        .target(name: "GatehouseAuthentication", dependencies: [
            "GatehouseCore", "GatehouseOutbound",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // ④ Host → function.
        .target(name: "GatehouseRouting", dependencies: ["GatehouseCore"]),
        // ⑤ Rate limits and per-caller caps.
        .target(name: "GatehouseProtection", dependencies: [
            "GatehouseCore", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // ⑥ Activator, instance pools, the process runtime, remote functions and the forwarding connection pool.
        .target(name: "GatehouseFunctions", dependencies: [
            "GatehouseCore", "GatehouseExchange",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Subprocess", package: "swift-subprocess"),
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // ⑦ Metrics, the access log and the audit log, written once per request from its record.
        .target(name: "GatehouseTelemetry", dependencies: [
            "GatehouseCore", "GatehouseFunctions", "GatehouseStore", "GatehouseIdentity",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // OpenTelemetry's OTLP trace messages, generated from opentelemetry-proto (scripts/generate-otlp.sh).
        .target(name: "GatehouseOTLP", dependencies: [
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], exclude: ["README.md"]),
        // ⑦ Traces: the spans of each request, kept for `gatehouse trace` and exported over OTLP/HTTP.
        .target(name: "GatehouseTracing", dependencies: [
            "GatehouseCore", "GatehouseOTLP", "GatehouseOutbound", "GatehouseTelemetry",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The one place that orders the stages, maps errors to HTTP, and runs the services.
        // Knative Eventing's broker: CloudEvents over HTTP, durable delivery to triggers, schedules, async calls.
        .target(name: "GatehouseEvents", dependencies: [
            "GatehouseCore", "GatehouseConfig", "GatehouseStore", "GatehouseExchange", "GatehouseProtection", "GatehouseTelemetry",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .target(name: "GatehouseGateway", dependencies: [
            "GatehouseCore", "GatehouseConfig", "GatehouseExchange", "GatehouseListener", "GatehouseRouting",
            "GatehouseFunctions", "GatehouseTelemetry", "GatehouseStore", "GatehouseAuthorization",
            "GatehouseAuthentication", "GatehouseIdentity", "GatehouseProtection", "GatehouseOutbound", "GatehouseTracing", "GatehouseEvents",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "gatehouse", dependencies: [
            "GatehouseGateway", "GatehouseConfig", "GatehouseCore", "GatehouseListener", "GatehouseTelemetry",
            "GatehouseStore", "GatehouseAuthorization", "GatehouseAuthentication", "GatehouseIdentity", "GatehouseOutbound",
            "GatehouseTracing",
            .product(name: "Yams", package: "Yams"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // Test kit: temporary state directories, a running gateway on port 0, an HTTP client, fixtures.
        .target(name: "GatehouseTesting", dependencies: [
            "GatehouseCore", "GatehouseIdentity",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "GatehouseCoreTests", dependencies: ["GatehouseCore"]),
        // Includes an in-process harness: the connection handler on NIO's EmbeddedChannel.
        .testTarget(name: "GatehouseListenerTests", dependencies: [
            "GatehouseListener", "GatehouseCore", "GatehouseExchange",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .testTarget(name: "GatehouseExchangeTests", dependencies: [
            "GatehouseExchange", "GatehouseCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "GatehouseConfigTests", dependencies: ["GatehouseConfig", "GatehouseCore"]),
        // The seam's contract runs against SQLite and a real PostgreSQL (GatehouseTesting's PostgresServer).
        .testTarget(name: "GatehouseStoreTests", dependencies: [
            "GatehouseStore", "GatehouseCore", "GatehouseTesting", .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .testTarget(name: "GatehouseAuthorizationTests", dependencies: ["GatehouseAuthorization", "GatehouseCore"]),
        .testTarget(name: "GatehouseAuthenticationTests", dependencies: [
            "GatehouseAuthentication", "GatehouseCore", "GatehouseTesting", "GatehouseOutbound",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "GatehouseIdentityTests", dependencies: [
            "GatehouseIdentity", "GatehouseCore", "GatehouseTesting",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "GatehouseProtectionTests", dependencies: ["GatehouseProtection", "GatehouseCore"]),
        .testTarget(name: "GatehouseRoutingTests", dependencies: ["GatehouseRouting", "GatehouseCore", "GatehouseConfig"]),
        // Includes the forwarder driven in-process, client and instance on EmbeddedChannels.
        .testTarget(name: "GatehouseFunctionsTests", dependencies: [
            "GatehouseFunctions", "GatehouseCore", "GatehouseListener", "GatehouseExchange", "GatehouseTesting",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .testTarget(name: "GatehouseEventsTests", dependencies: [
            "GatehouseEvents", "GatehouseCore", "GatehouseStore", "GatehouseConfig",
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .testTarget(name: "GatehouseTracingTests", dependencies: [
            "GatehouseTracing", "GatehouseCore", "GatehouseOTLP",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .testTarget(name: "GatehouseTelemetryTests", dependencies: [
            "GatehouseTelemetry", "GatehouseCore", "GatehouseFunctions", "GatehouseStore", "GatehouseIdentity",
            // Holds audit.db's lock from the outside, as another process would.
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Runs the real `gatehouse` binary on loopback with real function processes.
        .testTarget(name: "GatehouseIntegrationTests", dependencies: [
            "GatehouseTesting", "GatehouseCore", "GatehouseIdentity", "GatehouseStore", "gatehouse",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
    ]
)

// Micro-benchmarks (ordo-one/benchmark), built only when asked for so that `swift test` does not pay
// for them:  GATEHOUSE_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark
if ProcessInfo.processInfo.environment["GATEHOUSE_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "AuthorizationBenchmarks",
            dependencies: [
                "GatehouseAuthorization", "GatehouseCore",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/AuthorizationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
    package.targets.append(
        .executableTarget(
            name: "AuthenticationBenchmarks",
            dependencies: [
                "GatehouseAuthentication", "GatehouseCore", "GatehouseTesting", "GatehouseOutbound",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/AuthenticationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
}

// libFuzzer harnesses (docs/security.md, "Fuzzing"), built only when asked for and only with the fuzzer
// sanitizer, so neither `swift build` nor `swift test` sees them:  scripts/fuzz.sh
if ProcessInfo.processInfo.environment["GATEHOUSE_FUZZ"] != nil {
    package.targets.append(
        .executableTarget(
            name: "FuzzRequestHead",
            dependencies: [
                "GatehouseListener", "GatehouseRouting", "GatehouseConfig", "GatehouseCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Fuzz/Sources/FuzzRequestHead"))
    package.targets.append(
        .executableTarget(
            name: "FuzzConfig",
            dependencies: ["GatehouseConfig", "GatehouseRouting", "GatehouseCore"],
            path: "Fuzz/Sources/FuzzConfig"))
    package.targets.append(
        .executableTarget(name: "FuzzEventExpressions", dependencies: ["GatehouseCore"], path: "Fuzz/Sources/FuzzEventExpressions"))
}
