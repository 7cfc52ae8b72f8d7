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

    @Test("MUTUAL: a client SVID from the server's CA files is required; its SPIFFE ID is the source principal")
    func mutual() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let pki = try TestPKI(in: directory)
        let server = try pki.leaf("server", dnsNames: ["fn.default.localhost"])
        // A workload of another mesh, with an SVID from that mesh's CA (the test PKI).
        let partner = try pki.leaf("partner", dnsNames: [], uris: ["spiffe://partner.example/ns/billing/sa/invoicer"])
        let stranger = try TestPKI(in: directory, name: "stranger-pki").leaf("stranger", dnsNames: [], uris: ["spiffe://partner.example/ns/billing/sa/invoicer"])
        let port = try LoopbackPort.free()
        let config = fixtureFunction(name: "fn") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: partners, namespace: default}
            spec:
              servers:
              - port: {number: \(port), name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: MUTUAL, serverCertificate: \(server.certificate.path), privateKey: \(server.key.path), caCertificates: \(pki.rootFile.path)}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: partners-only, namespace: default}
            spec:
              rules:
              - from: [{source: {principals: ["partner.example/ns/billing/sa/invoicer"]}}]

            """
        let gatehouse = try await RunningGatehouse.start(config: config, directory: directory)
        defer { gatehouse.removeDirectory() }
        let response = try curl("fn.default.localhost", port: port, ca: pki.rootFile, certificate: partner)
        #expect(response.status == 200, "\(response) \(gatehouse.stderr)")
        let xfcc = (json(response.body)["headers"] as? [String: String])?["x-forwarded-client-cert"] ?? ""
        #expect(xfcc.hasSuffix(";URI=spiffe://partner.example/ns/billing/sa/invoicer"), "\(xfcc)")

        #expect(try curl("fn.default.localhost", port: port, ca: pki.rootFile).status == 0, "no client certificate: no handshake")
        #expect(try curl("fn.default.localhost", port: port, ca: pki.rootFile, certificate: stranger).status == 0, "another CA")
        // The partner's CA cannot speak for the mesh's own workloads.
        let impostor = try pki.leaf("impostor", dnsNames: [], uris: ["spiffe://cluster.local/ns/default/sa/admin"])
        #expect(try curl("fn.default.localhost", port: port, ca: pki.rootFile, certificate: impostor).status == 0, "mesh trust domain, foreign CA")
        #expect(try await gatehouse.request("fn").status == 403, "the plain ingress has no principal")
        _ = try await gatehouse.stop()
    }
}
