import Foundation
import GatehouseIdentity
import GatehouseTesting
import Testing

@Suite("The admin API over mutual TLS, for the Mesh's admin SPIFFE IDs", .serialized)
struct AdminIdentityTests {
    @Test("An admin SVID operates without the token and is named in the history; other SVIDs and no certificate are refused")
    func adminSVID() async throws {
        let port = try LoopbackPort.free()
        let config = fixtureFunction(name: "fn") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              identity:
                adminIdentities: ["spiffe://cluster.local/ns/ops/sa/deployer"]
              listeners:
                adminMtls: "127.0.0.1:\(port)"

            """
        try await withGatehouse(config) { gatehouse in
            func asIdentity(_ svid: URL, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
                try await gatehouse.cli(arguments + [
                    "--cert", svid.appendingPathComponent("cert.pem").path, "--key", svid.appendingPathComponent("key.pem").path,
                    "--token-file", "/nonexistent/admin.token",
                ])
            }
            let deployer = try await gatehouse.issueSVID("spiffe://cluster.local/ns/ops/sa/deployer")
            let listed = try await asIdentity(deployer, ["get", "functions"])
            #expect(listed.status == 0, "\(listed.stderr)")
            #expect(listed.stdout.contains("fn"), "\(listed.stdout)")

            let file = gatehouse.directory.appendingPathComponent("second.yaml")
            try fixtureFunction(name: "second").write(to: file, atomically: true, encoding: .utf8)
            let applied = try await asIdentity(deployer, ["apply", "-f", file.path])
            #expect(applied.status == 0, "\(applied.stderr)")
            let history = try await gatehouse.apiList("/api/v1/history")
            let entry = try #require(history.first { $0["name"] as? String == "second" }, "\(history)")
            #expect((entry["actor"] as? String)?.hasSuffix("(spiffe://cluster.local/ns/ops/sa/deployer)") == true, "\(entry)")

            let stranger = try await gatehouse.issueSVID("spiffe://cluster.local/ns/ops/sa/intern")
            let refused = try await asIdentity(stranger, ["get", "functions"])
            #expect(refused.status != 0)
            #expect(gatehouse.stderr.contains("admin handshake refused"))
            #expect(gatehouse.stderr.contains("spiffe://cluster.local/ns/ops/sa/intern"))

            // The right SPIFFE ID from another CA is not an admin.
            let foreign = try CertificateAuthority.create(trustDomain: "cluster.local")
            let forged = gatehouse.directory.appendingPathComponent("forged")
            try foreign.issueIdentity(SPIFFEID("spiffe://cluster.local/ns/ops/sa/deployer")!, lifetime: .seconds(3600)).write(to: forged)
            #expect(try await asIdentity(forged, ["get", "functions"]).status != 0)

            let bundle = gatehouse.stateDirectory.appendingPathComponent("ca/root-cert.pem")
            let anonymous = try curl("127.0.0.1", port: port, path: "/api/v1/functions", ca: bundle, insecure: true)
            #expect(anonymous.status == 0, "no client certificate, no handshake: \(anonymous)")
            #expect(try await gatehouse.cli(["get", "functions"]).status == 0, "the token still works on the plain admin listener")
        }
    }
}
