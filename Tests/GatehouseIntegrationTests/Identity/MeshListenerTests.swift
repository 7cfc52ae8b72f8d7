import Crypto
import Foundation
import GatehouseIdentity
import GatehouseTesting
import Testing
import X509

@Suite("The mesh listener: mutual TLS with SPIFFE identities", .serialized)
struct MeshListenerTests {
    static let onlyClient = """
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: only-client, namespace: default}
        spec:
          rules:
          - from: [{source: {principals: ["cluster.local/ns/default/sa/client"]}}]

        """

    func issue(_ gatehouse: RunningGatehouse, _ id: String) async throws -> URL {
        try await gatehouse.issueSVID(id)
    }

    func call(_ gatehouse: RunningGatehouse, _ svid: URL?, path: String = "/", headers: [(String, String)] = []) async throws -> RunningGatehouse.Response {
        try await MeshClient.request(
            gatehouse.mesh, host: "fn.default.\(gatehouse.domain)", path: path,
            certificate: svid?.appendingPathComponent("cert.pem"), key: svid?.appendingPathComponent("key.pem"),
            bundle: gatehouse.stateDirectory.appendingPathComponent("ca/root-cert.pem"), headers: headers)
    }

    @Test("A caller with an SVID reaches the function; its principal reaches policies, the function (XFCC) and the access log")
    func verifiedCaller() async throws {
        try await withGatehouse(fixtureFunction(name: "fn") + Self.onlyClient) { gatehouse in
            let client = try await issue(gatehouse, "spiffe://cluster.local/ns/default/sa/client")
            let response = try await call(gatehouse, client, headers: [("x-forwarded-client-cert", "URI=spiffe://cluster.local/ns/default/sa/admin")])
            #expect(response.status == 200, "\(response.body)")
            let xfcc = try #require((response.json["headers"] as? [String: String])?["x-forwarded-client-cert"])
            #expect(xfcc.hasPrefix("By=spiffe://cluster.local/ns/default/sa/default;Hash="), "\(xfcc)")
            #expect(xfcc.hasSuffix(";URI=spiffe://cluster.local/ns/default/sa/client"), "the caller's own claim was replaced: \(xfcc)")
            let line = try await gatehouse.accessLogLine(requestId: try #require(response.headers.first(name: "x-request-id")))
            #expect(line["source_principal"] as? String == "spiffe://cluster.local/ns/default/sa/client")
            #expect(line["connection_security_policy"] as? String == "mutual_tls")
            let metrics = try await gatehouse.metrics()
            #expect(sample(metrics, "istio_requests_total", containing: [
                #"source_principal="spiffe://cluster.local/ns/default/sa/client""#,
                #"destination_principal="spiffe://cluster.local/ns/default/sa/default""#,
                #"connection_security_policy="mutual_tls""#, #"source_workload_namespace="default""#,
                #"response_code="200""#,
            ]) == 1, "\(metrics)")

            let stranger = try await issue(gatehouse, "spiffe://cluster.local/ns/default/sa/stranger")
            #expect(try await call(gatehouse, stranger).status == 403, "another service account is not allowed")
            let plaintext = try await gatehouse.request("fn", headers: [("x-forwarded-client-cert", "URI=spiffe://cluster.local/ns/default/sa/client")])
            #expect(plaintext.status == 403, "plaintext has no principal, and a forged XFCC gives none")
        }
    }

    @Test("Refused during the handshake: no certificate, another CA, an expired SVID, another trust domain, a CA:TRUE leaf")
    func refusedHandshakes() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            await #expect(throws: (any Error).self, "no client certificate") { _ = try await call(gatehouse, nil) }

            let foreign = try CertificateAuthority.create(trustDomain: "cluster.local")
            let foreignDirectory = gatehouse.directory.appendingPathComponent("foreign")
            try foreign.issueIdentity(SPIFFEID("spiffe://cluster.local/ns/default/sa/client")!, lifetime: .seconds(3600)).write(to: foreignDirectory)
            await #expect(throws: (any Error).self, "another CA") { _ = try await call(gatehouse, foreignDirectory) }

            // Certificates the real CA signs but an SVID must not be.
            let ca = gatehouse.stateDirectory.appendingPathComponent("ca")
            let authority = try CertificateAuthority.load(
                certificate: ca.appendingPathComponent("root-cert.pem"), key: ca.appendingPathComponent("root-key.pem"))
            let cases: [(String, Date, Date, Bool, String)] = [
                ("expired", Date() - 7200, Date() - 3600, false, "spiffe://cluster.local/ns/default/sa/client"),
                ("another trust domain", Date() - 60, Date() + 3600, false, "spiffe://other.example/ns/default/sa/client"),
                ("CA:TRUE leaf", Date() - 60, Date() + 3600, true, "spiffe://cluster.local/ns/default/sa/client"),
            ]
            for (name, from, until, isCA, uri) in cases {
                let key = P256.Signing.PrivateKey()
                let certificate = try authority.sign(
                    publicKey: Certificate.PublicKey(key.publicKey), notValidBefore: from, notValidAfter: until,
                    extensions: try Certificate.Extensions {
                        Critical(isCA ? BasicConstraints.isCertificateAuthority(maxPathLength: nil) : BasicConstraints.notCertificateAuthority)
                        Critical(KeyUsage(digitalSignature: true, keyCertSign: isCA))
                        SubjectAlternativeNames([.uniformResourceIdentifier(uri)])
                    })
                let directory = gatehouse.directory.appendingPathComponent("bad-\(UUID().uuidString.prefix(6))")
                try IssuedIdentity(id: SPIFFEID(uri)!, certificate: certificate, privateKey: Certificate.PrivateKey(key), bundle: [authority.root])
                    .write(to: directory)
                await #expect(throws: (any Error).self, "\(name)") { _ = try await call(gatehouse, directory) }
            }
            // The gateway still serves good callers after refusing those.
            let client = try await issue(gatehouse, "spiffe://cluster.local/ns/default/sa/client")
            #expect(try await call(gatehouse, client).status == 200)
            #expect(gatehouse.stderr.contains("mesh handshake refused"))
        }
    }

    @Test("PeerAuthentication: STRICT refuses plaintext callers, DISABLE refuses mutual TLS callers")
    func peerAuthentication() async throws {
        let config = fixtureFunction(name: "fn") + "---\n" + fixtureFunction(name: "legacy") + """
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: default}
            spec: {mtls: {mode: STRICT}}
            ---
            apiVersion: security.istio.io/v1beta1
            kind: PeerAuthentication
            metadata: {name: legacy, namespace: default}
            spec:
              selector: {matchLabels: {app: legacy}}
              mtls: {mode: DISABLE}

            """
        try await withGatehouse(config.replacingOccurrences(of: "  name: legacy\n", with: "  name: legacy\n  labels: {app: legacy}\n")) { gatehouse in
            let client = try await issue(gatehouse, "spiffe://cluster.local/ns/default/sa/client")
            let plaintext = try await gatehouse.request("fn")
            #expect(plaintext.status == 403)
            #expect(plaintext.errorCode == "mtls_required")
            #expect(try await call(gatehouse, client).status == 200)

            #expect(try await gatehouse.request("legacy").status == 200)
            let overTLS = try await MeshClient.request(
                gatehouse.mesh, host: "legacy.default.\(gatehouse.domain)", certificate: client.appendingPathComponent("cert.pem"),
                key: client.appendingPathComponent("key.pem"), bundle: gatehouse.stateDirectory.appendingPathComponent("ca/root-cert.pem"))
            #expect(overTLS.status == 403)
            #expect(overTLS.json["code"] as? String == "mtls_not_accepted")
            let line = try await gatehouse.accessLogLine(requestId: try #require(plaintext.headers.first(name: "x-request-id")))
            #expect((line["authz_reason"] as? String)?.contains("PeerAuthentication default/default is STRICT") == true)
        }
    }

    @Test("The mesh listener renews its certificate at half its lifetime while callers keep calling; no call fails")
    func renewal() async throws {
        let config = fixtureFunction(name: "fn") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec: {identity: {svidTTL: "3s"}}

            """
        try await withGatehouse(config) { gatehouse in
            let client = try await issue(gatehouse, "spiffe://cluster.local/ns/default/sa/client")
            let deadline = ContinuousClock.now + .seconds(5)
            var calls = 0
            while ContinuousClock.now < deadline {
                let response = try await call(gatehouse, client)  // a new connection each time
                #expect(response.status == 200)
                calls += 1
            }
            let renewals = gatehouse.stderr.components(separatedBy: "mesh listener certificate renewed").count - 1
            #expect(renewals >= 2, "renewed every 1.5 s over 5 s of calls (\(calls) calls)")
        }
    }

    @Test("A real Envoy sidecar with a Gatehouse-issued SVID calls a function through the mesh listener, and checks Gatehouse's identity")
    func envoyPeer() async throws {
        try await withGatehouse(fixtureFunction(name: "fn") + Self.onlyClient) { gatehouse in
            let svid = try await issue(gatehouse, "spiffe://cluster.local/ns/default/sa/client")
            let mesh = try #require(URL(string: gatehouse.mesh))
            let sidecar = try await EnvoySidecar.start(
                upstream: mesh, svid: svid, expectedServerID: "spiffe://cluster.local/ns/istio-system/sa/gatehouse", in: gatehouse.directory)
            defer { sidecar.stop() }
            // Each request on a new upstream connection: the later ones resume the TLS session,
            // which skips the certificate check; the identity must still be there.
            for _ in 0..<3 {
                let response = try await RunningGatehouse.send(
                    url: "http://127.0.0.1:\(sidecar.port)/via-envoy", host: "fn.default.\(gatehouse.domain)", method: .GET, headers: [], body: nil)
                #expect(response.status == 200, "\(response.body)")
                let xfcc = (response.json["headers"] as? [String: String])?["x-forwarded-client-cert"]
                #expect(xfcc?.hasSuffix("URI=spiffe://cluster.local/ns/default/sa/client") == true, "\(xfcc ?? "no XFCC")")
            }

            // Envoy refuses a server that is not who it expects, as an Istio sidecar would.
            let wary = try await EnvoySidecar.start(
                upstream: mesh, svid: svid, expectedServerID: "spiffe://cluster.local/ns/default/sa/someone-else", in: gatehouse.directory)
            defer { wary.stop() }
            let refused = try await RunningGatehouse.send(
                url: "http://127.0.0.1:\(wary.port)/", host: "fn.default.\(gatehouse.domain)", method: .GET, headers: [], body: nil)
            #expect(refused.status == 503)
        }
    }

    @Test("Bring your own CA: an intermediate under the operator's root signs every SVID; callers trust only the root")
    func ownIntermediate() async throws {
        let files = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: files) }
        let root = try CertificateAuthority.create(trustDomain: "cluster.local")
        let key = P256.Signing.PrivateKey()
        let intermediate = try root.sign(
            publicKey: Certificate.PublicKey(key.publicKey), notValidBefore: Date() - 60, notValidAfter: Date() + 86400,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            },
            subject: try DistinguishedName { OrganizationName("Example Corp"); CommonName("mesh intermediate") })
        try root.root.serializeAsPEM().pemString.write(to: files.appendingPathComponent("root.pem"), atomically: true, encoding: .utf8)
        try intermediate.serializeAsPEM().pemString.write(to: files.appendingPathComponent("intermediate.pem"), atomically: true, encoding: .utf8)
        try Certificate.PrivateKey(key).serializeAsPEM().pemString.write(to: files.appendingPathComponent("intermediate-key.pem"), atomically: true, encoding: .utf8)
        let config = fixtureFunction(name: "fn") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              identity:
                ca:
                  certFile: \(files.appendingPathComponent("intermediate.pem").path)
                  keyFile: \(files.appendingPathComponent("intermediate-key.pem").path)
                  rootCertFile: \(files.appendingPathComponent("root.pem").path)

            """
        try await withGatehouse(config) { gatehouse in
            let bundle = try await gatehouse.cli(["ca", "bundle"])
            #expect(bundle.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == (try root.root.serializeAsPEM().pemString))
            let client = try await issue(gatehouse, "spiffe://cluster.local/ns/default/sa/client")
            let chain = try String(contentsOf: client.appendingPathComponent("cert.pem"), encoding: .utf8)
            #expect(chain.components(separatedBy: "BEGIN CERTIFICATE").count - 1 == 2, "the SVID and the intermediate")
            let response = try await MeshClient.request(
                gatehouse.mesh, host: "fn.default.\(gatehouse.domain)", certificate: client.appendingPathComponent("cert.pem"),
                key: client.appendingPathComponent("key.pem"), bundle: files.appendingPathComponent("root.pem"))
            #expect(response.status == 200, "the gateway's chain verifies to the operator's root, and the caller's to it too")
        }
    }

    @Test("Root rotation: during the overlap old and new SVIDs are accepted; after it, old ones are refused")
    func rotation() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let old = try await issue(gatehouse, "spiffe://cluster.local/ns/default/sa/client")
            let bundleFile = gatehouse.directory.appendingPathComponent("bundle-both.pem")
            func call(_ svid: URL) async throws -> Int {
                try await MeshClient.request(
                    gatehouse.mesh, host: "fn.default.\(gatehouse.domain)", certificate: svid.appendingPathComponent("cert.pem"),
                    key: svid.appendingPathComponent("key.pem"), bundle: bundleFile).status
            }
            let rotating = ContinuousClock.now
            let rotate = try await gatehouse.cli(["ca", "rotate", "--overlap", "15s"])
            #expect(rotate.status == 0, "\(rotate.stderr)")
            let rotatedAt = ContinuousClock.now
            let bundle = try await gatehouse.cli(["ca", "bundle"])
            #expect(bundle.stdout.components(separatedBy: "BEGIN CERTIFICATE").count - 1 == 2, "new and old roots during the overlap")
            try bundle.stdout.write(to: bundleFile, atomically: true, encoding: .utf8)
            _ = try await eventually("the gateway to use the new root", timeout: .seconds(10)) {
                gatehouse.stderr.contains("certificate authority changed") ? true : nil
            }
            let fresh = try await issue(gatehouse, "spiffe://cluster.local/ns/default/sa/client")
            #expect(try await call(fresh) == 200, "an SVID under the new root")
            #expect(try await call(old) == 200, "an SVID under the old root, within the overlap")
            #expect(ContinuousClock.now - rotatedAt < .seconds(15), "the overlap checks ran inside it")

            _ = try await eventually("the old root's SVIDs to be refused", timeout: .seconds(30)) { () async -> Bool? in
                ((try? await call(old)) == nil) ? true : nil
            }
            // The gateway drops the old root when the overlap ends (a timer, not a poll): measured
            // from before the rotation began, it never comes early.
            #expect(ContinuousClock.now - rotating >= .seconds(15), "not before the overlap ended")
            print("old root refused \(ContinuousClock.now - rotating) after the rotation began (overlap 15 s)")
            #expect(try await call(fresh) == 200)
        }
    }

    @Test("ca bundle prints the root; openssl verifies the chains ca issue writes")
    func bundleAndOpenSSL() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let bundle = try await gatehouse.cli(["ca", "bundle"])
            #expect(bundle.status == 0)
            let root = try String(contentsOf: gatehouse.stateDirectory.appendingPathComponent("ca/root-cert.pem"), encoding: .utf8)
            #expect(bundle.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == root.trimmingCharacters(in: .whitespacesAndNewlines))
            let key = try FileManager.default.attributesOfItem(atPath: gatehouse.stateDirectory.appendingPathComponent("ca/root-key.pem").path)
            #expect((key[.posixPermissions] as? Int) == 0o600)

            let svid = try await issue(gatehouse, "spiffe://cluster.local/ns/payments/sa/billing")
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            openssl.arguments = ["openssl", "verify", "-CAfile", svid.appendingPathComponent("bundle.pem").path, svid.appendingPathComponent("cert.pem").path]
            let output = Pipe()
            openssl.standardOutput = output
            try openssl.run()
            openssl.waitUntilExit()
            #expect(openssl.terminationStatus == 0)
            #expect(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains(": OK"))
        }
    }
}
