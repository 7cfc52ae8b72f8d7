import Foundation
import GatehouseTesting
import Testing

/// `curl` over HTTPS to `host` on a loopback port: real SNI and hostname verification.
func curl(
    _ host: String, port: Int, path: String = "/", ca: URL, certificate: (URL, URL)? = nil, insecure: Bool = false
) throws -> (exit: Int32, status: Int, body: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    var arguments = ["curl", "-sS", "--max-time", "10", "--resolve", "\(host):\(port):127.0.0.1", "--cacert", ca.path, "-w", "\n%{http_code}"]
    if let (cert, key) = certificate { arguments += ["--cert", cert.path, "--key", key.path] }
    if insecure { arguments.append("-k") }
    process.arguments = arguments + ["https://\(host):\(port)\(path)"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    let status = Int(text.split(separator: "\n").last ?? "") ?? 0
    let body = text.split(separator: "\n").dropLast().joined(separator: "\n")
    return (process.terminationStatus, status, body)
}

func json(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
}

@Suite("Gateway HTTPS servers: SIMPLE and MUTUAL TLS on the ingress", .serialized)
struct GatewayTLSTests {
    @Test("SIMPLE: the certificate is chosen by SNI among the servers on a port; hosts outside every server get 404 NR")
    func simple() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let pki = try TestPKI(in: directory)
        let shop = try pki.leaf("shop", dnsNames: ["fn.default.localhost"])
        // The second server's credentials come from a credentialName, as from a Kubernetes secret.
        let other = try pki.leaf("other", dnsNames: ["*.other.localhost"])
        let credentials = directory.appendingPathComponent("state/credentials/other-cert")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: other.certificate, to: credentials.appendingPathComponent("tls.crt"))
        try FileManager.default.copyItem(at: other.key, to: credentials.appendingPathComponent("tls.key"))
        let port = try LoopbackPort.free()
        let config = fixtureFunction(name: "fn") + "---\n" + fixtureFunction(name: "api", namespace: "other") + "---\n"
            + fixtureFunction(name: "hidden") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: default}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: \(port), name: https, protocol: HTTPS}
                hosts: ["fn.default.localhost"]
                tls: {mode: SIMPLE, serverCertificate: \(shop.certificate.path), privateKey: \(shop.key.path)}
              - port: {number: \(port), name: https-other, protocol: HTTPS}
                hosts: ["other/*.other.localhost"]
                tls: {mode: SIMPLE, credentialName: other-cert}

            """
        let gatehouse = try await RunningGatehouse.start(config: config, directory: directory)
        defer { gatehouse.removeDirectory() }
        do {
            let first = try curl("fn.default.localhost", port: port, ca: pki.rootFile)
            #expect(first.exit == 0 && first.status == 200, "\(first)")
            #expect((json(first.body)["headers"] as? [String: String])?["x-forwarded-proto"] == "https")
            let second = try curl("api.other.localhost", port: port, ca: pki.rootFile)
            #expect(second.exit == 0 && second.status == 200, "SNI chose the second server's certificate: \(second)")

            let hidden = try curl("hidden.default.localhost", port: port, ca: pki.rootFile, insecure: true)
            #expect(hidden.status == 404, "\(hidden)")
            #expect(json(hidden.body)["requestId"] != nil)
            #expect(try await gatehouse.request("hidden").status == 200, "the plain ingress still serves every function")
        } catch {
            print(gatehouse.stderr)
            throw error
        }
        _ = try await gatehouse.stop()
    }

    @Test("MUTUAL: a client SVID from the server's CA files is required; a partner's is external, not a mesh principal")
    func mutual() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let pki = try TestPKI(in: directory)
        let server = try pki.leaf("server", dnsNames: ["fn.default.localhost"])
        // A workload of another mesh, with an SVID from that mesh's CA (the test PKI).
        let partner = try pki.leaf("partner", dnsNames: [], uris: ["spiffe://partner.example/ns/billing/sa/invoicer"])
        let stranger = try TestPKI(in: directory, name: "stranger-pki").leaf("stranger", dnsNames: [], uris: ["spiffe://partner.example/ns/billing/sa/invoicer"])
        let port = try LoopbackPort.free()
        let gatehouse = try await RunningGatehouse.start(config: partnerConfig(port: port, server: server, ca: pki.rootFile), directory: directory)
        defer { gatehouse.removeDirectory() }
        // Another trust domain is not the mesh's: no principal, no namespace, no service account.
        #expect(try curl("fn.default.localhost", port: port, path: "/by-principal", ca: pki.rootFile, certificate: partner).status == 403)
        #expect(try curl("fn.default.localhost", port: port, path: "/by-namespace", ca: pki.rootFile, certificate: partner).status == 403)
        #expect(try curl("fn.default.localhost", port: port, path: "/by-account", ca: pki.rootFile, certificate: partner).status == 403)
        // Policy sees it as the certificate it is; the function gets it in XFCC.
        let response = try curl("fn.default.localhost", port: port, path: "/by-certificate", ca: pki.rootFile, certificate: partner)
        #expect(response.status == 200, "\(response) \(gatehouse.stderr)")
        let headers = json(response.body)["headers"] as? [String: String] ?? [:]
        #expect(headers["x-forwarded-client-cert"]?.hasSuffix(";URI=spiffe://partner.example/ns/billing/sa/invoicer") == true, "\(headers)")
        let line = try await gatehouse.accessLogLine(requestId: headers["x-request-id"] ?? "")
        #expect(line["peer_certificate_uri"] as? String == "spiffe://partner.example/ns/billing/sa/invoicer", "\(line)")
        #expect(line["source_principal"] == nil, "an external certificate is not a source principal")

        #expect(try curl("fn.default.localhost", port: port, ca: pki.rootFile).status == 0, "no client certificate: no handshake")
        #expect(try curl("fn.default.localhost", port: port, ca: pki.rootFile, certificate: stranger).status == 0, "another CA")
        // The partner's CA cannot speak for the mesh's own workloads.
        let impostor = try pki.leaf("impostor", dnsNames: [], uris: ["spiffe://cluster.local/ns/default/sa/admin"])
        #expect(try curl("fn.default.localhost", port: port, ca: pki.rootFile, certificate: impostor).status == 0, "mesh trust domain, foreign CA")
        #expect(try await gatehouse.request("fn", path: "/by-certificate").status == 403, "the plain ingress has no certificate")
        _ = try await gatehouse.stop()
    }

    @Test("MUTUAL: a trust domain the Mesh declares as an alias is the mesh's own: principal, namespace and service account")
    func mutualAlias() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let pki = try TestPKI(in: directory)
        let server = try pki.leaf("server", dnsNames: ["fn.default.localhost"])
        let partner = try pki.leaf("partner", dnsNames: [], uris: ["spiffe://partner.example/ns/billing/sa/invoicer"])
        let port = try LoopbackPort.free()
        let mesh = """
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec: {trustDomainAliases: [partner.example]}
            ---

            """
        let gatehouse = try await RunningGatehouse.start(config: mesh + partnerConfig(port: port, server: server, ca: pki.rootFile), directory: directory)
        defer { gatehouse.removeDirectory() }
        for path in ["/by-principal", "/by-namespace", "/by-account", "/by-certificate"] {
            let response = try curl("fn.default.localhost", port: port, path: path, ca: pki.rootFile, certificate: partner)
            #expect(response.status == 200, "\(path): \(response) \(gatehouse.stderr)")
        }
        _ = try await gatehouse.stop()
    }

    /// A MUTUAL gateway trusting `ca`, and one ALLOW policy with a rule per way of naming the partner.
    func partnerConfig(port: Int, server: (certificate: URL, key: URL), ca: URL) -> String {
        fixtureFunction(name: "fn") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: partners, namespace: default}
            spec:
              servers:
              - port: {number: \(port), name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: MUTUAL, serverCertificate: \(server.certificate.path), privateKey: \(server.key.path), caCertificates: \(ca.path)}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: partners-only, namespace: default}
            spec:
              rules:
              - from: [{source: {principals: ["partner.example/ns/billing/sa/invoicer"]}}]
                to: [{operation: {paths: ["/by-principal"]}}]
              - from: [{source: {namespaces: ["billing"]}}]
                to: [{operation: {paths: ["/by-namespace"]}}]
              - from: [{source: {serviceAccounts: ["billing/invoicer"]}}]
                to: [{operation: {paths: ["/by-account"]}}]
              - to: [{operation: {paths: ["/by-certificate"]}}]
                when: [{key: connection.uri_san_peer_certificate, values: ["spiffe://partner.example/*"]}]

            """
    }
}
