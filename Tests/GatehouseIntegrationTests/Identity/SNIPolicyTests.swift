import Foundation
import GatehouseTesting
import Testing

/// An HTTPS GET whose ClientHello is split over two TLS records (legal, and what a client hiding
/// its SNI from a naive parser would send); prints the response's status.
private let splitHelloClient = #"""
import socket, ssl, sys
port, sni, host = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context()
context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = context.wrap_bio(incoming, outgoing, server_hostname=sni)
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = outgoing.read()
kind, version, length = hello[0:1], hello[1:3], int.from_bytes(hello[3:5], "big")
body = hello[5:5 + length]
record = lambda part: kind + version + len(part).to_bytes(2, "big") + part
sock.sendall(record(body[:40]) + record(body[40:]) + hello[5 + length:])
def exchange():
    pending = outgoing.read()
    if pending:
        sock.sendall(pending)
    data = sock.recv(65536)
    if not data:
        raise EOFError
    incoming.write(data)
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        exchange()
tls.write(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
response = b""
while b"\r\n\r\n" not in response:
    try:
        response += tls.read(65536)
    except ssl.SSLWantReadError:
        exchange()
print(response.split(b" ")[1].decode())
"""#

private func splitHello(port: Int, sni: String, host: String) throws -> Int {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", splitHelloClient, String(port), sni, host]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
}

/// `when: connection.sni` reads the server name the client sent in its TLS handshake.
@Suite("connection.sni in AuthorizationPolicy", .serialized)
struct SNIPolicyTests {
    @Test("A DENY on connection.sni matches a TLS request with that SNI, not one without; an ALLOW needing it refuses plaintext")
    func sniConditions() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let pki = try TestPKI(in: directory)
        let server = try pki.leaf("server", dnsNames: ["fn.default.localhost", "blocked.localhost", "strict.default.localhost"])
        let port = try LoopbackPort.free()
        let config = fixtureFunction(name: "fn") + "---\n" + fixtureFunction(name: "strict") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: default}
            spec:
              servers:
              - port: {number: \(port), name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: SIMPLE, serverCertificate: \(server.certificate.path), privateKey: \(server.key.path)}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: no-blocked-sni, namespace: default}
            spec:
              selector: {matchLabels: {app: fn}}
              action: DENY
              rules:
              - when: [{key: connection.sni, values: ["blocked.localhost"]}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: strict-sni, namespace: default}
            spec:
              selector: {matchLabels: {app: strict}}
              rules:
              - when: [{key: connection.sni, values: ["strict.default.localhost"]}]

            """
        let labelled = config
            .replacingOccurrences(of: "  name: fn\n  namespace: default\n", with: "  name: fn\n  namespace: default\n  labels: {app: fn}\n")
            .replacingOccurrences(of: "  name: strict\n  namespace: default\n", with: "  name: strict\n  namespace: default\n  labels: {app: strict}\n")
        let gatehouse = try await RunningGatehouse.start(config: labelled, directory: directory)
        defer { gatehouse.removeDirectory() }
        do {
            let ca = ["--cacert", pki.rootFile.path]
            func https(sni: String, host: String) throws -> Int {
                try curl(url: "https://\(sni):\(port)/", host: host, arguments: ca + ["--resolve", "\(sni):\(port):127.0.0.1"]).status
            }
            #expect(try https(sni: "fn.default.localhost", host: "fn.default.localhost") == 200)
            #expect(try https(sni: "blocked.localhost", host: "fn.default.localhost") == 403, "the DENY matches the handshake's SNI")
            #expect(try https(sni: "BLOCKED.localhost", host: "fn.default.localhost") == 403, "SNI is compared lowercase")
            #expect(try splitHello(port: port, sni: "blocked.localhost", host: "fn.default.localhost") == 403,
                    "the SNI is the one the handshake parsed, even from a ClientHello split over records")
            #expect(try splitHello(port: port, sni: "fn.default.localhost", host: "fn.default.localhost") == 200)
            // curl sends no SNI to an address.
            let noSNI = try curl(url: "https://127.0.0.1:\(port)/", host: "fn.default.localhost", arguments: ["-k"])
            #expect(noSNI.status == 200, "no SNI: the DENY does not match \(noSNI)")
            #expect(try await gatehouse.request("fn").status == 200, "plaintext: no SNI, the DENY does not match")

            #expect(try https(sni: "strict.default.localhost", host: "strict.default.localhost") == 200)
            #expect(try await gatehouse.request("strict").status == 403, "plaintext: no SNI, the ALLOW does not match")
            #expect(try https(sni: "fn.default.localhost", host: "strict.default.localhost") == 403)
        } catch {
            print(gatehouse.stderr)
            throw error
        }
        _ = try await gatehouse.stop()
    }
}
