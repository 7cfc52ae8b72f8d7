import Crypto
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GatehouseTesting
import Testing

/// HTTP/2 callers (issue 18): h2c with prior knowledge on the plaintext ingress, `h2` by ALPN on
/// TLS listeners; each stream is one exchange through the same stages as an HTTP/1.1 request,
/// forwarded to the function over HTTP/1.1.
@Suite("HTTP/2 callers on the ingress and the mesh listener", .serialized)
struct HTTP2ListenerTests {
    static let host = "fn.default.localhost"

    static let policies = """
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-admin, namespace: default}
        spec:
          action: DENY
          rules:
          - to: [{operation: {paths: ["/admin"]}}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: token-for-private, namespace: default}
        spec:
          action: DENY
          rules:
          - to: [{operation: {paths: ["/private"]}}]
            from: [{source: {notRequestPrincipals: ["*"]}}]

        """

    func h2c(_ gatehouse: RunningGatehouse, _ path: String, _ extra: [String] = []) async throws -> HTTP2Tools.CurlResult {
        try await HTTP2Tools.curl(
            ["--http2-prior-knowledge", "-H", "host: \(Self.host)"] + extra + [gatehouse.ingress + path], in: gatehouse.directory)
    }

    @Test("h2c with prior knowledge: the function gets an HTTP/1.1 request with the caller's host, path and headers; the access log says HTTP/2")
    func priorKnowledge() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let response = try await h2c(gatehouse, "/some/path?q=1", ["-H", "x-custom: yes"])
            #expect(response.exit == 0 && response.status == 200, "\(response)")
            #expect(response.version == "2", "curl spoke HTTP/\(response.version)")
            #expect(response.json["version"] as? String == "HTTP/1.1")
            #expect(response.json["path"] as? String == "/some/path?q=1")
            let headers = response.json["headers"] as? [String: String] ?? [:]
            #expect(headers["host"] == Self.host)
            #expect(headers["x-custom"] == "yes")
            #expect(headers["connection"] == nil || headers["connection"] == "keep-alive", "\(headers)")
            let requestId = try #require(response.headers["x-request-id"])
            let line = try await gatehouse.accessLogLine(requestId: requestId)
            #expect(line["protocol"] as? String == "HTTP/2")
            #expect(line["authority"] as? String == Self.host)

            // HTTP/1.1 on the same port is served as before.
            let plain = try await gatehouse.request("fn")
            #expect(plain.status == 200)
            let plainLine = try await gatehouse.accessLogLine(requestId: try #require(plain.headers.first(name: "x-request-id")))
            #expect(plainLine["protocol"] as? String == "HTTP/1.1")
        }
    }

    @Test("Stages apply per stream: an AuthorizationPolicy denial is 403 with the request id; a JWT rule admits a valid token and refuses a forged one")
    func stages() async throws {
        let issuer = try TestIssuer()
        let config = fixtureFunction(name: "fn") + Self.policies + """
            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: default}
            spec:
              jwtRules:
              - issuer: "\(issuer.issuer)"
                jwks: '\(try issuer.jwks())'

            """
        try await withGatehouse(config) { gatehouse in
            let denied = try await h2c(gatehouse, "/admin")
            #expect(denied.status == 403 && denied.version == "2", "\(denied)")
            let requestId = try #require(denied.headers["x-request-id"])
            #expect(denied.json["requestId"] as? String == requestId)
            let line = try await gatehouse.accessLogLine(requestId: requestId)
            #expect(line["protocol"] as? String == "HTTP/2")
            #expect(line["response_code"] as? Int == 403)

            #expect(try await h2c(gatehouse, "/private").status == 403, "no token, no request principal")
            let token = try issuer.token()
            let admitted = try await h2c(gatehouse, "/private", ["-H", "authorization: Bearer \(token)"])
            #expect(admitted.status == 200, "\(admitted)")
            let forged = try await h2c(gatehouse, "/private", ["-H", "authorization: Bearer \(try issuer.tamperedToken())"])
            #expect(forged.status == 401)
            #expect(forged.headers["www-authenticate"]?.contains("invalid_token") == true)
        }
    }

    @Test("Bodies both ways over h2: a 4 MiB upload reaches the function intact (also one slower than the caller), an 8 MiB response streams back whole")
    func bodies() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let upload = gatehouse.directory.appendingPathComponent("upload.bin")
            let bytes = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 12)) }
            try Data(bytes).write(to: upload)
            let posted = try await h2c(gatehouse, "/echo", ["--data-binary", "@\(upload.path)", "-H", "content-type: application/octet-stream"])
            #expect(posted.status == 200, "\(posted)")
            #expect(posted.json["length"] as? Int == bytes.count)
            #expect(posted.json["sha256"] as? String == SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())

            // A function slower than the caller: the stream stops being read (its window is not
            // returned) until the function takes more, then resumes; nothing is lost.
            let slow = try await h2c(gatehouse, "/echo?slow=1", ["--data-binary", "@\(upload.path)"])
            #expect(slow.status == 200 && slow.json["length"] as? Int == bytes.count, "\(slow.status) \(slow.body)")

            let download = try await HTTP2Tools.run([
                "curl", "-sS", "--http2-prior-knowledge", "-H", "host: \(Self.host)", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                gatehouse.ingress + "/bytes?n=\(8 << 20)",
            ])
            #expect(download.output == "200 \(8 << 20)", "\(download)")
        }
    }

    // 400, not thousands: enough to fill 20 streams on each connection many times over, without
    // taking both cores from every other suite of the test process (throughput is a benchmark's).
    @Test("h2load: 400 requests over 2 connections, 20 streams at a time each, all answered by the function")
    func manyStreams() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let result = try await HTTP2Tools.run([
                "h2load", "-n", "400", "-c", "2", "-m", "20", "-H", ":authority: \(Self.host)", gatehouse.ingress + "/",
            ])
            #expect(result.output.contains("400 succeeded, 0 failed, 0 errored"), "\(result.output)")
            #expect(result.output.contains("status codes: 400 2xx"), "\(result.output)")
            #expect(result.output.contains("Application protocol: h2c"), "\(result.output)")
        }
    }

    @Test("The mesh listener negotiates h2 by ALPN; the SVID proven at the handshake reaches every stream's policies and XFCC")
    func meshALPN() async throws {
        try await withGatehouse(fixtureFunction(name: "fn") + MeshListenerTests.onlyClient) { gatehouse in
            let client = try await gatehouse.issueSVID("spiffe://cluster.local/ns/default/sa/client")
            let port = try #require(URL(string: gatehouse.mesh)?.port)
            func call(_ svid: URL, _ extra: [String] = []) async throws -> HTTP2Tools.CurlResult {
                // The mesh certificate names a SPIFFE ID, not a DNS name: curl checks only the chain.
                try await HTTP2Tools.curl([
                    "--http2", "-k", "--cert", svid.appendingPathComponent("cert.pem").path,
                    "--key", svid.appendingPathComponent("key.pem").path, "-H", "host: \(Self.host)",
                ] + extra + ["https://127.0.0.1:\(port)/"], in: gatehouse.directory)
            }
            let response = try await call(client)
            #expect(response.status == 200 && response.version == "2", "\(response)")
            let xfcc = (response.json["headers"] as? [String: String])?["x-forwarded-client-cert"]
            #expect(xfcc?.hasSuffix(";URI=spiffe://cluster.local/ns/default/sa/client") == true, "\(xfcc ?? "no XFCC")")
            let line = try await gatehouse.accessLogLine(requestId: try #require(response.headers["x-request-id"]))
            #expect(line["protocol"] as? String == "HTTP/2")
            #expect(line["source_principal"] as? String == "spiffe://cluster.local/ns/default/sa/client")

            let stranger = try await gatehouse.issueSVID("spiffe://cluster.local/ns/default/sa/stranger")
            let refused = try await call(stranger)
            #expect(refused.status == 403 && refused.version == "2")

            // Several streams on one connection all carry the identity: h2load cannot present a client
            // certificate, so curl multiplexes parallel requests instead (one status line each).
            let many = try await HTTP2Tools.run(
                ["curl", "-sS", "--max-time", "60", "--http2", "-k", "--parallel", "--parallel-max", "10",
                 "--cert", client.appendingPathComponent("cert.pem").path, "--key", client.appendingPathComponent("key.pem").path,
                 "-H", "host: \(Self.host)", "-w", "%{http_code} %{http_version}\n"]
                    + (0..<10).flatMap { _ in ["-o", "/dev/null", "https://127.0.0.1:\(port)/"] })
            let lines = many.output.split(separator: "\n")
            #expect(many.status == 0 && lines.count == 10 && lines.allSatisfy { $0 == "200 2" }, "\(many)")

            // A client that offers only HTTP/1.1 gets it.
            let http1 = try await call(client, ["--http1.1"])
            #expect(http1.status == 200 && http1.version == "1.1", "\(http1)")
        }
    }

    @Test("SIGTERM drains an HTTP/2 connection: the stream in flight is answered, then GOAWAY and close")
    func drain() async throws {
        let gatehouse = try await RunningGatehouse.start(config: fixtureFunction(name: "fn"))
        defer { gatehouse.removeDirectory() }
        #expect(try await h2c(gatehouse, "/").status == 200)
        async let slow = h2c(gatehouse, "/sleep?ms=1500")
        try await gatehouse.waitForInFlight("fn")
        kill(gatehouse.process.processIdentifier, SIGTERM)
        let answered = try await slow
        #expect(answered.exit == 0 && answered.status == 200 && answered.version == "2", "\(answered)")
        #expect(try await gatehouse.stop() == 0)
    }

    @Test("Malformed HTTP/2 request heads are refused before any stage: a Host other than :authority gets 400; forbidden headers reset the stream")
    func malformedHeads() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let port = try #require(URL(string: gatehouse.ingress)?.port)
            let outcome = try await HTTP2Peer.run("malformed", port: port, host: Self.host, in: gatehouse.directory)
            #expect(outcome["well-formed"] as? String == "status 200", "\(outcome)")
            #expect(outcome["te trailers"] as? String == "status 200", "\(outcome)")
            #expect(outcome["host same"] as? String == "status 200", "\(outcome)")
            #expect(outcome["host differs"] as? String == "status 400", "\(outcome)")
            // RFC 9113 §8.1.1: malformed → stream error PROTOCOL_ERROR (1); never forwarded.
            for name in [
                "uppercase name", "connection", "keep-alive", "transfer-encoding", "upgrade", "te gzip", "pseudo after regular",
                "unknown pseudo", "no path", "connect", "extended connect",
            ] {
                let result = outcome[name] as? String ?? "missing"
                #expect(result.hasPrefix("reset ") || result.hasPrefix("goaway 1"), "\(name): \(result)")
            }
            // Only the well-formed ones became exchanges: three reached the function, one was refused.
            // (The access log is written in batches: wait for those four, then look at everything.)
            let exchanges = try await eventually("four HTTP/2 exchanges in the access log") {
                let lines = gatehouse.accessLog.filter { $0["protocol"] as? String == "HTTP/2" }
                return lines.count >= 4 ? lines : nil
            }
            #expect(exchanges.map { $0["response_code"] as? Int ?? 0 }.sorted() == [200, 200, 200, 400], "\(exchanges)")
        }
    }
}
