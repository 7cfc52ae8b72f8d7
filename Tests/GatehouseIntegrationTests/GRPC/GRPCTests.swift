import Foundation
import GatehouseTesting
import Testing

/// gRPC end to end (issue 18): a grpcio client calls through Gatehouse's ingress (h2c) to a grpcio
/// server run as a Function with `protocol: h2c`; statuses, trailers and deadlines pass through, and
/// Gatehouse's own refusals are gRPC statuses.
@Suite("gRPC through Gatehouse to an h2c function", .serialized)
struct GRPCTests {
    static let authority = "rpc.default.localhost"

    static let denySecret = """
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-secret, namespace: default}
        spec:
          action: DENY
          rules:
          - to: [{operation: {paths: ["/test.Echo/Secret"]}}]

        """

    /// Starts Gatehouse with the grpcio function (and `extra` config) and runs `body`.
    func withRPC(_ extra: String = "", _ body: (RunningGatehouse) async throws -> Void) async throws {
        try await GRPCPeer.ensureInstalled()
        try await withGatehouse(GRPCPeer.function() + extra, prepare: GRPCPeer.prepare(in:), body)
    }

    func call(_ gatehouse: RunningGatehouse, _ scenario: String, _ extra: [String] = []) async throws -> [String: Any] {
        try await GRPCPeer.call(scenario, ingress: gatehouse.ingress, authority: Self.authority, in: gatehouse.directory, extra: extra)
    }

    @Test("Unary, server-streaming and bidirectional calls; the function's status, message and trailers reach the client; the access log and metrics carry grpc-status")
    func calls() async throws {
        try await withRPC { gatehouse in
            let out = try await call(gatehouse, "calls")
            let unary = try #require(out["unary"] as? [String: Any], "\(out)")
            #expect(unary["code"] as? String == "OK", "\(unary)")
            let echoed = try JSONSerialization.jsonObject(with: Data(((unary["response"] as? String) ?? "{}").utf8)) as? [String: Any]
            #expect(echoed?["echo"] as? String == "world")
            let metadata = echoed?["metadata"] as? [String: String] ?? [:]
            #expect(metadata["x-custom"] == "yes")
            #expect(metadata["x-forwarded-proto"] == "http")
            let requestId = try #require((unary["initial"] as? [String: String])?["x-request-id"], "\(unary)")
            #expect(metadata["x-request-id"] == requestId)
            // The function's own trailer passes through with its status.
            #expect((unary["trailing"] as? [String: String])?["x-from-function"] == "trailer", "\(unary)")

            let status = try #require(out["status"] as? [String: Any])
            #expect(status["code"] as? String == "NOT_FOUND", "\(status)")
            #expect(status["details"] as? String == "no such thing")
            #expect(out["count"] as? [String] == ["0", "1", "2", "3", "4"], "\(out)")
            #expect(out["chat"] as? [String] == ["ONE", "TWO", "THREE"], "\(out)")

            let line = try await gatehouse.accessLogLine(requestId: requestId)
            #expect(line["protocol"] as? String == "HTTP/2")
            #expect(line["response_code"] as? Int == 200)
            #expect(line["grpc_status"] as? Int == 0, "\(line)")
            let failedId = try #require((status["initial"] as? [String: String])?["x-request-id"], "\(status)")
            #expect(try await gatehouse.accessLogLine(requestId: failedId)["grpc_status"] as? Int == 5)

            let metrics = try await gatehouse.metrics()
            #expect(sample(metrics, "istio_requests_total", containing: ["request_protocol=\"grpc\"", "grpc_response_status=\"5\""]) == 1, "\(metrics)")
            #expect(sample(metrics, "istio_requests_total", containing: ["request_protocol=\"grpc\"", "grpc_response_status=\"0\""]) != nil)
        }
    }

    @Test("Gatehouse's refusals are gRPC statuses: a denied method is PERMISSION_DENIED, a bad token UNAUTHENTICATED, each with the request id in its message")
    func refusals() async throws {
        let issuer = try TestIssuer()
        let config = Self.denySecret + """
            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: default}
            spec:
              jwtRules:
              - issuer: "\(issuer.issuer)"
                jwks: '\(try issuer.jwks())'

            """
        try await withRPC(config) { gatehouse in
            let denied = try await call(gatehouse, "unary", ["/test.Echo/Secret"])
            #expect(denied["code"] as? String == "PERMISSION_DENIED", "\(denied)")
            let requestId = try #require((denied["initial"] as? [String: String])?["x-request-id"], "\(denied)")
            #expect((denied["details"] as? String)?.contains("request id \(requestId)") == true, "\(denied)")
            let line = try await gatehouse.accessLogLine(requestId: requestId)
            #expect(line["grpc_status"] as? Int == 7)
            #expect(line["response_code"] as? Int == 200)

            let forged = try await call(gatehouse, "unary", ["/test.Echo/Unary", "authorization=Bearer not.a.token"])
            #expect(forged["code"] as? String == "UNAUTHENTICATED", "\(forged)")
            #expect((forged["initial"] as? [String: String])?["www-authenticate"]?.hasPrefix("Bearer") == true, "\(forged)")

            let allowed = try await call(gatehouse, "unary", ["/test.Echo/Unary", "authorization=Bearer \(try issuer.token(subject: "alice"))"])
            #expect(allowed["code"] as? String == "OK", "\(allowed)")
        }
    }

    @Test("Deadlines: a client's deadline ends the call as DEADLINE_EXCEEDED; Gatehouse enforces grpc-timeout itself (status 4 in trailers, flag UT)")
    func deadlines() async throws {
        try await withRPC { gatehouse in
            let expired = try await call(gatehouse, "deadline", ["0.5"])
            #expect(expired["code"] as? String == "DEADLINE_EXCEEDED", "\(expired)")

            // No client timer here: only Gatehouse's reading of grpc-timeout can end the call.
            let frame = gatehouse.directory.appendingPathComponent("hang.bin")
            try Data([0, 0, 0, 0, 4] + Array("hang".utf8)).write(to: frame)
            let response = try await HTTP2Tools.curl([
                "--http2-prior-knowledge", "-H", "host: \(Self.authority)", "-H", "content-type: application/grpc",
                "-H", "te: trailers", "-H", "grpc-timeout: 300m", "--data-binary", "@\(frame.path)",
                gatehouse.ingress + "/test.Echo/Unary",
            ], in: gatehouse.directory)
            #expect(response.exit == 0 && response.status == 200, "\(response)")
            #expect(response.headers["grpc-status"] == "4", "\(response.headers)")
            let line = try await gatehouse.accessLogLine(requestId: try #require(response.headers["x-request-id"]))
            #expect(line["grpc_status"] as? Int == 4)
            #expect((line["response_flags"] as? String)?.contains("UT") == true, "\(line)")
        }
    }

    @Test("A caller's own short grpc-timeout is not the instance's failure: outlier detection does not eject it (the function need not speak gRPC)")
    func callerDeadlinesDoNotEject() async throws {
        let ejectAfterTwo = fixtureFunction(name: "fn", scaling: "maxInstances: 1") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: fn, namespace: default}
            spec:
              host: fn
              trafficPolicy:
                outlierDetection: {consecutive5xxErrors: 2, consecutiveGatewayErrors: 2, maxEjectionPercent: 100}

            """
        try await withGatehouse(ejectAfterTwo) { gatehouse in
            // Held by the fixture until released: only the caller's deadline ends these calls.
            for _ in 0..<3 {
                let expired = try await HTTP2Tools.curl([
                    "--http2-prior-knowledge", "-H", "host: fn.default.localhost", "-H", "content-type: application/grpc",
                    "-H", "te: trailers", "-H", "grpc-timeout: 50m", gatehouse.ingress + gatehouse.held("calls"),
                ], in: gatehouse.directory)
                #expect(expired.headers["grpc-status"] == "4", "\(expired.headers)")
            }
            gatehouse.release("calls")
            let after = try await gatehouse.request("fn")
            #expect(after.status == 200, "the instance was ejected for the callers' deadlines: \(after.body)")
        }
    }

    @Test("An HTTP/1.1 caller reaches the h2c function: the request is translated, and the function's trailers come back as chunked trailers")
    func http1Caller() async throws {
        try await withRPC { gatehouse in
            let frame = gatehouse.directory.appendingPathComponent("world.bin")
            try Data([0, 0, 0, 0, 5] + Array("world".utf8)).write(to: frame)
            let response = try await HTTP2Tools.curl([
                "--http1.1", "-H", "host: \(Self.authority)", "-H", "content-type: application/grpc", "-H", "te: trailers",
                "--data-binary", "@\(frame.path)", gatehouse.ingress + "/test.Echo/Unary",
            ], in: gatehouse.directory)
            #expect(response.exit == 0 && response.status == 200, "\(response)")
            #expect(response.version == "1.1")
            #expect(response.body.contains("\"echo\": \"world\""), "\(response.body)")
            #expect(response.headers["grpc-status"] == "0", "\(response.headers)")
            #expect(response.headers["x-from-function"] == "trailer", "\(response.headers)")
        }
    }
}
