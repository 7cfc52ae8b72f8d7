import Foundation
import GatehouseTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What an attacker tried against the edge (issue: the trust boundary), each through the real binary.
@Suite("The trust boundary: paths, hosts, upgrades and slow bodies", .serialized)
struct TrustBoundaryTests {
    static let policies = """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-admin, namespace: default}
        spec:
          selector: {matchLabels: {app: guarded}}
          action: DENY
          rules:
          - to: [{operation: {paths: ["/admin"]}}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: public-only, namespace: default}
        spec:
          selector: {matchLabels: {app: public}}
          action: ALLOW
          rules:
          - to: [{operation: {notPaths: ["/admin"]}}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-secret-host, namespace: default}
        spec:
          selector: {matchLabels: {app: guarded}}
          action: DENY
          rules:
          - to: [{operation: {hosts: ["secret.default.localhost"]}}]

        """

    static func labelled(_ name: String, app: String) -> String {
        fixtureFunction(name: name).replacingOccurrences(of: "  namespace: default\n", with: "  namespace: default\n  labels: {app: \(app)}\n")
    }

    @Test("A #fragment cannot slip past a path policy (CVE-2021-32779): 400, in origin- and absolute-form, DENY and notPaths alike")
    func fragments() async throws {
        let config = Self.labelled("guarded", app: "guarded") + "---\n" + Self.labelled("public", app: "public") + "---\n" + Self.policies
        try await withGatehouse(config) { gatehouse in
            #expect(try await gatehouse.request("guarded", path: "/admin").status == 403)
            #expect(try await gatehouse.request("public", path: "/admin").status == 403)
            for (host, target) in [
                ("guarded", "/admin#x"), ("guarded", "/admin#"), ("public", "/admin#x"),
                ("guarded", "http://guarded.default.localhost/admin#x"),
            ] {
                let connection = try RawConnection(url: gatehouse.ingress)
                try connection.send("GET \(target) HTTP/1.1\r\nHost: \(host).default.localhost\r\n\r\n")
                let response = try await connection.readResponse()
                #expect(response.status == 400, "\(target) on \(host)")
                #expect(response.body.contains("fragment_in_path"), "\(response.body)")
                #expect(response.header("x-request-id") != nil)
                connection.close()
            }
            #expect(try await gatehouse.request("public", path: "/ok").status == 200)
        }
    }

    @Test("A path whose escapes decode to NUL is 400, and never reaches the function")
    func nulInPath() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let connection = try RawConnection(url: gatehouse.ingress)
            try connection.send("GET /a%00b HTTP/1.1\r\nHost: fn.default.localhost\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 400)
            #expect(response.body.contains("invalid_path"))
            #expect(!gatehouse.stderr.contains("fixture: GET /a%00b"))
        }
    }

    @Test("A trailing dot or upper case in Host cannot bypass hosts: one canonical host for routing, policy, log and function")
    func canonicalHost() async throws {
        let config = Self.labelled("secret", app: "guarded") + "---\n" + Self.policies
        try await withGatehouse(config) { gatehouse in
            for host in ["secret.default.localhost", "secret.default.localhost.", "SECRET.default.localhost.", "Secret.Default.Localhost:80"] {
                let response = try await RunningGatehouse.send(url: gatehouse.ingress + "/", host: host, method: .GET, headers: [], body: nil)
                #expect(response.status == 403, "\(host) must be denied like the canonical name")
            }
        }
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            let response = try await RunningGatehouse.send(
                url: gatehouse.ingress + "/", host: "FN.default.localhost.", method: .GET, headers: [], body: nil)
            #expect(response.status == 200)
            let headers = response.json["headers"] as? [String: String] ?? [:]
            #expect(headers["host"] == "fn.default.localhost", "the function gets the canonical host")
            let line = try await gatehouse.accessLogLine(requestId: try #require(response.headers.first(name: "x-request-id")))
            #expect(line["authority"] as? String == "fn.default.localhost")
        }
    }

    @Test("An Upgrade Gatehouse does not proxy is refused with 403 and the connection closes; what follows is not buffered")
    func upgrades() async throws {
        try await withGatehouse(fixtureFunction(name: "fn")) { gatehouse in
            _ = try await gatehouse.request("fn")
            let before = gatehouse.peakResidentBytes
            let connection = try RawConnection(url: gatehouse.ingress, timeoutSeconds: 10)
            try connection.send("GET / HTTP/1.1\r\nHost: fn.default.localhost\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 403)
            #expect(response.body.contains("upgrade_not_supported"))
            #expect(response.header("connection") == "close")
            // Whatever a client sends after its upgrade request goes nowhere: 64 MiB cannot grow the gateway.
            let junk = String(repeating: "x", count: 1 << 20)
            for _ in 0..<64 {
                do { try connection.send(junk) } catch { break }  // the server closed: also fine
            }
            #expect(try await connection.waitForClose())
            #expect(gatehouse.peakResidentBytes - before < 32 << 20, "peak RSS grew by \(gatehouse.peakResidentBytes - before) bytes")
            // CONNECT, whatever its target, is a tunnel by another name: refused the same way.
            let connect = try RawConnection(url: gatehouse.ingress, timeoutSeconds: 10)
            try connect.send("CONNECT /x HTTP/1.1\r\nHost: fn.default.localhost\r\n\r\n")
            #expect(try await connect.readResponse().status == 403)
            #expect(try await connect.waitForClose())
            #expect(!gatehouse.stderr.contains("fixture: CONNECT"))
            #expect(try await gatehouse.request("fn").status == 200)
        }
    }

    @Test("A request body that stops arriving is answered 408 after the body idle timeout; its function slot is free again")
    func slowBody() async throws {
        try await withGatehouse(fixtureFunction(name: "fn", scaling: "maxInstances: 1, concurrency: 1"),
                                arguments: ["--request-body-idle-timeout", "1s"]) { gatehouse in
            _ = try await gatehouse.request("fn")
            let connection = try RawConnection(url: gatehouse.ingress, timeoutSeconds: 20)
            try connection.send("POST /echo HTTP/1.1\r\nHost: fn.default.localhost\r\nContent-Length: 100\r\n\r\n0123456789")
            let response = try await connection.readResponse()
            #expect(response.status == 408)
            #expect(response.body.contains("request_timeout"))
            #expect(try await connection.waitForClose())
            // The only instance's only slot was given back.
            #expect(try await gatehouse.request("fn").status == 200)
        }
    }
}
