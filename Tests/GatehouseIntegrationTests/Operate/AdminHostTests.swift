import Foundation
import GatehouseTesting
import Testing

/// `curl` with a `Host` of our choosing (and, for HTTPS, the SNI of the URL's host).
func curl(url: String, host: String, arguments: [String] = []) throws -> (status: Int, body: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["curl", "-sS", "--max-time", "10", "-H", "Host: \(host)", "-w", "\n%{http_code}"] + arguments + [url]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (Int(text.split(separator: "\n").last ?? "") ?? 0, text.split(separator: "\n").dropLast().joined(separator: "\n"))
}

/// DNS rebinding: the admin listeners answer only to their own names.
@Suite("The admin listeners answer only to their own names", .serialized)
struct AdminHostTests {
    @Test("An admin listener bound to every address (as in a pod) is found by the CLI on loopback, not refused as Host 0.0.0.0")
    func wildcardAdmin() async throws {
        try await withGatehouse(fixtureFunction(name: "fn"), arguments: ["--admin", "0.0.0.0:0"]) { gatehouse in
            let listed = try await gatehouse.cli(["get", "functions"])
            #expect(listed.status == 0, "\(listed.stderr)")
            #expect(listed.stdout.contains("fn"), "\(listed.stdout)")
        }
    }

    @Test("/metrics and the API refuse Host: evil.example with 421; 127.0.0.1:PORT, localhost and adminHosts work; the CLI still works")
    func ownNamesOnly() async throws {
        let mtlsPort = try LoopbackPort.free()
        let config = fixtureFunction(name: "fn") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              identity:
                adminIdentities: ["spiffe://cluster.local/ns/ops/sa/deployer"]
              listeners:
                adminMtls: "127.0.0.1:\(mtlsPort)"
                adminHosts: ["Gatehouse.Internal"]

            """
        try await withGatehouse(config) { gatehouse in
            let port = try #require(URL(string: gatehouse.admin)?.port)
            func send(_ path: String, host: String, token: Bool = false) async throws -> RunningGatehouse.Response {
                try await RunningGatehouse.send(
                    url: gatehouse.admin + path, host: host, method: .GET,
                    headers: token ? [("authorization", "Bearer \(gatehouse.adminToken)")] : [], body: nil)
            }
            let rebound = try await send("/metrics", host: "evil.example")
            #expect(rebound.status == 421)
            #expect(rebound.json["code"] as? String == "misdirected_host", "\(rebound.body)")
            #expect(try await send("/api/v1/functions", host: "evil.example:\(port)", token: true).status == 421, "the token does not help")
            #expect(try await send("/healthz", host: "127.0.0.1.nip.io").status == 421)
            #expect(try await send("/metrics", host: "127.0.0.1:\(port + 1)").status == 421, "another port is another origin")
            #expect(gatehouse.stderr.contains("admin request for another host refused"))

            #expect(try await send("/metrics", host: "127.0.0.1:\(port)").status == 200)
            #expect(try await send("/metrics", host: "localhost").status == 200)
            #expect(try await send("/metrics", host: "[::1]:\(port)").status == 200)
            #expect(try await send("/api/v1/functions", host: "gatehouse.internal:\(port)", token: true).status == 200, "a configured name")
            #expect(try await gatehouse.cli(["get", "functions"]).status == 0)
            #expect(try await gatehouse.metrics().contains("gatehouse"))

            // The admin API over mutual TLS checks the same way (after the handshake).
            let deployer = try await gatehouse.issueSVID("spiffe://cluster.local/ns/ops/sa/deployer")
            // The server presents an SVID (a SPIFFE URI, no DNS or IP name): curl cannot check its name.
            let tls = ["-k",
                       "--cert", deployer.appendingPathComponent("cert.pem").path, "--key", deployer.appendingPathComponent("key.pem").path]
            let mtlsURL = "https://127.0.0.1:\(mtlsPort)/api/v1/functions"
            #expect(try curl(url: mtlsURL, host: "evil.example", arguments: tls).status == 421)
            let own = try curl(url: mtlsURL, host: "127.0.0.1:\(mtlsPort)", arguments: tls)
            #expect(own.status == 200, "\(own)")
        }
    }
}
