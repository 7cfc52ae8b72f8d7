import Foundation
import GatehouseTesting
import Testing

/// A `Function` calling an existing endpoint instead of running a process.
func remoteFunction(name: String, url: String, serviceAccount: String = "default", timeout: String? = nil) -> String {
    """
    apiVersion: gatehouse.dev/v1
    kind: Function
    metadata: {name: \(name), namespace: default}
    spec:
      remote: {url: "\(url)"}
      serviceAccount: \(serviceAccount)
    \(timeout.map { "  timeout: \($0)\n" } ?? "")
    """
}

/// A `DestinationRule` for `host` with `tls` as the body of `trafficPolicy.tls` (flow style).
func destinationRule(name: String, host: String, tls: String) -> String {
    """
    apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: \(name), namespace: default}
    spec:
      host: \(host)
      trafficPolicy:
        tls: \(tls)

    """
}

@Suite("Remote functions: an existing HTTP(S) endpoint called as the function's identity", .serialized)
struct RemoteFunctionTests {
    /// A request to `function` that cannot reach it: 502 with flag `UF`, as for a process function
    /// that does not accept connections. Returns the access log's `error_detail` (why).
    func unreachable(_ gatehouse: RunningGatehouse, _ function: String, _ comment: Comment) async throws -> String {
        let response = try await gatehouse.request(function)
        #expect(response.status == 502, comment)
        #expect(response.errorCode == "upstream_connect_failure", comment)
        let line = try await gatehouse.accessLogLine(requestId: try #require(response.headers.first(name: "x-request-id")))
        #expect(line["response_flags"] as? String == "UF", comment)
        return line["error_detail"] as? String ?? "-"
    }

    @Test("Plain HTTP: path prefix and Host from the URL; too slow → 504 UT, cut off → 502 UC, down → 502 UF")
    func plainRemote() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let remote = try await RemoteServer.start(in: directory)
        defer { remote.stop() }
        let config = remoteFunction(name: "fn", url: "http://127.0.0.1:\(remote.port)/base/") + "---\n"
            + remoteFunction(name: "direct", url: "http://127.0.0.1:\(remote.port)", timeout: "1s")
        try await withGatehouse(config) { gatehouse in
            let response = try await gatehouse.request("fn", path: "/hello?x=1")
            #expect(response.status == 200, "\(response.body)")
            #expect(response.json["path"] as? String == "/base/hello?x=1")
            let headers = try #require(response.json["headers"] as? [String: String])
            #expect(headers["host"] == "127.0.0.1:\(remote.port)", "the remote is addressed by its own name")
            #expect(headers["x-forwarded-host"] == "fn.default.\(gatehouse.domain)")
            let line = try await gatehouse.accessLogLine(requestId: try #require(response.headers.first(name: "x-request-id")))
            #expect(line["upstream_host"] as? String == "127.0.0.1:\(remote.port)")

            let slow = try await gatehouse.request("direct", path: "/sleep?ms=3000")
            #expect(slow.status == 504)
            #expect(slow.errorCode == "upstream_timeout")
            let cut = try await gatehouse.request("direct", path: "/crash")
            #expect(cut.status == 502, "\(cut.body)")
            #expect(cut.errorCode == "upstream_reset")

            remote.stop()
            _ = try await unreachable(gatehouse, "fn", "the remote is down")
        }
    }

    @Test("Failed connects give their in-flight slot back: a remote that comes up later is served")
    func slotsComeBack() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try LoopbackPort.free()
        let config = remoteFunction(name: "later", url: "http://127.0.0.1:\(port)") + "  scaling: {maxInstances: 1, concurrency: 1}\n"
        try await withGatehouse(config) { gatehouse in
            for _ in 0..<3 { _ = try await unreachable(gatehouse, "later", "nothing listens yet") }
            let remote = try await RemoteServer.start(in: directory, port: port)
            defer { remote.stop() }
            let served = try await gatehouse.request("later", path: "/../../x")
            #expect(served.status == 200, "not 503 UO: the failed attempts released their slot (\(served.body))")
            #expect(served.json["path"] as? String == "/x", "dot segments resolved before the remote sees the path")
        }
    }

    @Test("Outlier detection ejects a failing remote endpoint (503 UH, nothing sent) and brings it back")
    func outlierEjection() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let remote = try await RemoteServer.start(in: directory)
        defer { remote.stop() }
        let config = remoteFunction(name: "shaky", url: "http://127.0.0.1:\(remote.port)") + "---\n"
            + destinationRule(name: "shaky", host: "shaky", tls: "{mode: DISABLE}")
            + "    outlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 1s}\n"
        try await withGatehouse(config) { gatehouse in
            for attempt in 1...2 {
                let failing = try await gatehouse.request("shaky", path: "/flaky?key=o&fail=2")
                #expect(failing.status == 503 && failing.json["attempt"] as? Int == attempt, "the remote's own 503")
            }
            let ejected = try await gatehouse.request("shaky", path: "/flaky?key=o&fail=2")
            #expect(ejected.status == 503 && ejected.errorCode == "function_unavailable", "\(ejected.body)")
            #expect(ejected.headers.first(name: "retry-after") != nil)
            let line = try await gatehouse.accessLogLine(requestId: try #require(ejected.headers.first(name: "x-request-id")))
            #expect(line["response_flags"] as? String == "UH")
            let back = try await eventually("the endpoint is back after its ejection") {
                let response = try await gatehouse.request("shaky", path: "/flaky?key=o&fail=2")
                return response.status == 200 ? response : nil
            }
            #expect(back.json["attempt"] as? Int == 3, "the ejected request never reached the remote")
        }
    }

    @Test("SIMPLE verifies the server (custom CA, names); MUTUAL presents a client certificate from a credentialName")
    func simpleAndMutual() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pki = try TestPKI(in: directory)
        let server = try pki.leaf("server", dnsNames: ["localhost"])
        let client = try pki.leaf("client", dnsNames: ["client.example"])
        let open = try await RemoteServer.start(in: directory, tls: .init(certificate: server.certificate, key: server.key))
        defer { open.stop() }
        let guarded = try await RemoteServer.start(
            in: directory, tls: .init(certificate: server.certificate, key: server.key, clientCA: pki.rootFile))
        defer { guarded.stop() }
        let config = remoteFunction(name: "open", url: "https://localhost:\(open.port)") + "---\n"
            + remoteFunction(name: "guarded", url: "https://127.0.0.1:\(guarded.port)")
        try await withGatehouse(config) { gatehouse in
            #expect(try await unreachable(gatehouse, "open", "a server the system roots do not know").lowercased().contains("certificate"))

            let trusted = destinationRule(name: "open", host: "open", tls: "{mode: SIMPLE, caCertificates: \(pki.rootFile.path)}")
            #expect(try await gatehouse.apply("trusted.yaml", trusted).status == 0)
            let response = try await gatehouse.request("open")
            #expect(response.status == 200, "\(response.body)")
            #expect((response.json["headers"] as? [String: String])?["host"] == "localhost:\(open.port)")

            let wrongName = destinationRule(
                name: "open", host: "open", tls: "{mode: SIMPLE, caCertificates: \(pki.rootFile.path), subjectAltNames: [other.example]}")
            #expect(try await gatehouse.apply("wrong-name.yaml", wrongName).status == 0)
            #expect(try await unreachable(gatehouse, "open", "a certificate naming none of subjectAltNames").contains("subjectAltNames"))

            // The guarded server wants a client certificate.
            let simple = destinationRule(name: "guarded", host: "guarded.default.svc.cluster.local", tls: "{mode: SIMPLE, caCertificates: \(pki.rootFile.path)}")
            #expect(try await gatehouse.apply("guarded.yaml", simple).status == 0)
            _ = try await unreachable(gatehouse, "guarded", "no client certificate")

            let missing = destinationRule(name: "guarded", host: "guarded", tls: "{mode: MUTUAL, credentialName: remote-client}")
            let refused = try await gatehouse.apply("missing.yaml", missing)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("credentials/remote-client"), "\(refused.stderr)")
            _ = try await unreachable(gatehouse, "guarded", "the refused apply changed nothing")

            let credentials = gatehouse.stateDirectory.appendingPathComponent("credentials/remote-client")
            try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: client.certificate, to: credentials.appendingPathComponent("tls.crt"))
            try FileManager.default.copyItem(at: client.key, to: credentials.appendingPathComponent("tls.key"))
            try FileManager.default.copyItem(at: pki.rootFile, to: credentials.appendingPathComponent("ca.crt"))
            #expect(try await gatehouse.apply("mutual.yaml", missing).status == 0)
            let mutual = try await gatehouse.request("guarded")
            #expect(mutual.status == 200, "\(mutual.body)")
            #expect((mutual.json["peer_names"] as? [String])?.contains("client.example") == true, "\(mutual.body)")
            #expect(!gatehouse.stderr.contains("PRIVATE KEY"))
        }
    }

    @Test("ISTIO_MUTUAL through a real Envoy: the function's own SVID is presented and the server's SVID checked")
    func istioMutualThroughEnvoy() async throws {
        try await withGatehouse(fixtureFunction(name: "unused")) { gatehouse in
            let svid = gatehouse.directory.appendingPathComponent("envoy-svid")
            let issued = try await gatehouse.cli(["ca", "issue", "--spiffe-id", "spiffe://cluster.local/ns/remote/sa/backend", "--out", svid.path])
            #expect(issued.status == 0, "\(issued.stderr)")
            let envoy = try await EnvoySidecar.startServer(
                svid: svid, allowedClientID: "spiffe://cluster.local/ns/default/sa/caller", in: gatehouse.directory)
            defer { envoy.stop() }
            let url = "https://127.0.0.1:\(envoy.port)/api"
            let config = remoteFunction(name: "caller", url: url, serviceAccount: "caller") + "---\n"
                + remoteFunction(name: "stranger", url: url, serviceAccount: "stranger") + "---\n"
                + remoteFunction(name: "plain", url: url, serviceAccount: "caller") + "---\n"
                + remoteFunction(name: "picky", url: url, serviceAccount: "caller") + "---\n"
                + destinationRule(name: "caller", host: "caller", tls: "{mode: ISTIO_MUTUAL, subjectAltNames: [\"spiffe://cluster.local/ns/remote/sa/backend\"]}")
                + "---\n" + destinationRule(name: "stranger", host: "stranger", tls: "{mode: ISTIO_MUTUAL}")
                + "---\n" + destinationRule(name: "picky", host: "picky", tls: "{mode: ISTIO_MUTUAL, subjectAltNames: [\"spiffe://cluster.local/ns/remote/sa/other\"]}")
            let applied = try await gatehouse.apply("remote.yaml", config)
            #expect(applied.status == 0, "\(applied.stderr)")

            let response = try await gatehouse.request("caller", path: "/v1")
            #expect(response.status == 200, "\(response.body)")
            #expect(response.headers.first(name: "x-peer-spiffe-id") == "spiffe://cluster.local/ns/default/sa/caller")
            #expect(response.headers.first(name: "x-seen-path") == "/api/v1")
            #expect(response.body == "served by envoy")
            #expect(try await gatehouse.request("caller", path: "/again").status == 200, "a kept-alive or new connection works again")

            _ = try await unreachable(gatehouse, "stranger", "Envoy refuses another service account")
            _ = try await unreachable(gatehouse, "plain", "without a rule, SIMPLE does not trust the mesh's CA")
            #expect(try await unreachable(gatehouse, "picky", "another server SPIFFE ID is required").contains("subjectAltNames"))
        }
    }
}
