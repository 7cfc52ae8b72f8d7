import Foundation
import GatehouseTesting
import Testing

@Suite("Errors at the edge, limits, metrics and the CLI", .serialized)
struct EdgeTests {
    @Test("An unknown host gets 404 with flag NR and the one JSON error shape")
    func noRoute() async throws {
        try await withGatehouse(fixtureFunction(name: "known")) { gatehouse in
            let response = try await gatehouse.request("unknown")
            #expect(response.status == 404)
            #expect(response.headers.first(name: "content-type") == "application/json")
            let json = response.json
            #expect(Set(json.keys) == ["status", "code", "message", "requestId"])
            #expect(json["status"] as? Int == 404)
            #expect(json["code"] as? String == "route_not_found")
            #expect(json["requestId"] as? String == response.headers.first(name: "x-request-id"))
            let line = try await gatehouse.accessLogLine(requestId: try #require(json["requestId"] as? String))
            #expect(line["response_flags"] as? String == "NR")
            let metrics = try await gatehouse.metrics()
            #expect(sample(metrics, "istio_requests_total", containing: ["response_code=\"404\"", "response_flags=\"NR\""]) == 1)
        }
    }

    @Test("The admin listener answers /healthz and /readyz")
    func health() async throws {
        try await withGatehouse(fixtureFunction(name: "probe")) { gatehouse in
            let healthz = try await RunningGatehouse.send(url: gatehouse.admin + "/healthz", host: nil, method: .GET, headers: [], body: nil)
            #expect(healthz.status == 200)
            let readyz = try await RunningGatehouse.send(url: gatehouse.admin + "/readyz", host: nil, method: .GET, headers: [], body: nil)
            #expect(readyz.status == 200)
            #expect(readyz.body == "ready\n")
        }
    }

    @Test("A Mesh sets the domain; a Telemetry is accepted and enforced, with no notice")
    func meshAndIstioKinds() async throws {
        let config = """
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec: {domain: fn.test}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: meshed, namespace: default}
            spec: {accessLogging: [{providers: [{name: envoy}]}]}
            ---

            """ + fixtureFunction(name: "meshed")
        try await withGatehouse(config) { gatehouse in
            #expect(gatehouse.domain == "fn.test")
            #expect(try await gatehouse.request("meshed").status == 200)  // meshed.default.fn.test
            let old = try await RunningGatehouse.send(
                url: gatehouse.ingress, host: "meshed.default.localhost", method: .GET, headers: [], body: nil)
            #expect(old.status == 404)
            #expect(!gatehouse.stderr.contains("Telemetry default/meshed:"), "\(gatehouse.stderr)")
        }
    }

    @Test("Headers past the limit get 431, a body past it 413")
    func limits() async throws {
        let arguments = ["--max-header-bytes", "2048", "--max-body-bytes", "1024"]
        try await withGatehouse(fixtureFunction(name: "bounded"), arguments: arguments) { gatehouse in
            let bigHeader = try await gatehouse.request("bounded", headers: [("x-padding", String(repeating: "a", count: 4096))])
            #expect(bigHeader.status == 431)
            #expect(bigHeader.errorCode == "headers_too_large")
            let bigBody = try await gatehouse.request("bounded", path: "/echo", method: .POST, body: Array(repeating: 7, count: 2000))
            #expect(bigBody.status == 413)
            #expect(bigBody.errorCode == "body_too_large")
            let fine = try await gatehouse.request("bounded", path: "/echo", method: .POST, body: Array(repeating: 7, count: 1000))
            #expect(fine.status == 200)
            #expect(fine.json["length"] as? Int == 1000)
        }
    }

    @Test("/metrics passes promtool's lint but for Istio's own millisecond unit, and shows the cold start",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool")))
    func metricsLint() async throws {
        try await withGatehouse(fixtureFunction(name: "linted")) { gatehouse in
            _ = try await gatehouse.request("linted")
            _ = try await gatehouse.request("nothing-here")
            let metrics = try await gatehouse.metrics()
            #expect(sample(metrics, "gatehouse_function_cold_starts_total", containing: ["function=\"linted\""]) == 1)
            let complaints = try promtoolComplaints(metrics)
            #expect(!complaints.isEmpty, "promtool flags istio_request_duration_milliseconds' unit; no complaint means it did not run")
            for complaint in complaints {
                #expect(complaint.contains("istio_request_duration_milliseconds"), "unexpected promtool complaint: \(complaint)")
            }
        }
    }

    @Test("The access log can go to a file, or be off")
    func accessLogDestinations() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("access.log")
        try await withGatehouse(fixtureFunction(name: "logged"), arguments: ["--access-log", file.path]) { gatehouse in
            let response = try await gatehouse.request("logged")
            let id = try #require(response.headers.first(name: "x-request-id"))
            _ = try await eventually("the line in the file") {
                ((try? String(contentsOf: file, encoding: .utf8)) ?? "").contains(id) ? true : nil
            }
            #expect(gatehouse.accessLog.isEmpty, "nothing on stdout")
        }
        // Off: after a request and a clean stop (which flushes whatever the log holds), nothing was written.
        let quiet = try await RunningGatehouse.start(config: fixtureFunction(name: "quiet"), arguments: ["--access-log", "off"])
        defer { quiet.removeDirectory() }
        #expect(try await quiet.request("quiet").status == 200)
        #expect(try await quiet.stop() == 0)
        #expect(quiet.accessLog.isEmpty)
    }

    @Test("A config error names file, line and field, and nothing starts")
    func badConfigIsRefused() async throws {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.yaml")
        try """
            apiVersion: gatehouse.dev/v1
            kind: Function
            metadata:
              name: bad
            spec:
              process:
                command: ["python3", "x.py"]
              scaling:
                maxInstances: ten
            """.write(to: file, atomically: true, encoding: .utf8)
        let up = try await runGatehouse(["up", "-f", file.path, "--state-dir", directory.appendingPathComponent("state").path])
        #expect(up.status != 0)
        #expect(up.stderr.contains("bad.yaml:9:"))
        #expect(up.stderr.contains("spec.scaling.maxInstances"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("state/endpoints.json").path))
        let validate = try await runGatehouse(["validate", "-f", file.path])
        #expect(validate.status != 0)
        #expect(validate.stderr.contains("spec.scaling.maxInstances"))
    }

    @Test("`gatehouse invoke` calls a function through the ingress; 4xx/5xx exit non-zero")
    func invoke() async throws {
        try await withGatehouse(fixtureFunction(name: "callme")) { gatehouse in
            let state = gatehouse.stateDirectory.path
            let ok = try await runGatehouse(["invoke", "callme", "--state-dir", state, "--path", "/echo", "--data", "hello"])
            #expect(ok.status == 0)
            #expect(ok.stdout.contains("\"length\": 5"))
            let missing = try await runGatehouse(["invoke", "nobody", "--state-dir", state])
            #expect(missing.status != 0)
            #expect(missing.stdout.contains("route_not_found"))
        }
    }
}

/// Lines of `promtool check metrics` output for the given exposition.
func promtoolComplaints(_ exposition: String) throws -> [String] {
    let text = try runWithInput("/usr/bin/promtool", ["check", "metrics"], input: exposition, mergingErrors: true).output
    return text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
}

@Suite("HTTP/1.1 on the wire", .serialized)
struct WireTests {
    @Test("Pipelined requests on one connection are answered in order, and a 404 keeps the connection")
    func pipelining() async throws {
        try await withGatehouse(fixtureFunction(name: "wire")) { gatehouse in
            _ = try await gatehouse.request("wire")  // warm, so all three are answered quickly
            let connection = try RawConnection(url: gatehouse.ingress)
            try connection.send(
                "GET /first HTTP/1.1\r\nHost: wire.default.localhost\r\n\r\n"
                    + "GET / HTTP/1.1\r\nHost: nobody.default.localhost\r\n\r\n"
                    + "GET /third HTTP/1.1\r\nHost: wire.default.localhost\r\n\r\n")
            let first = try await connection.readResponse()
            let second = try await connection.readResponse()
            let third = try await connection.readResponse()
            #expect(first.status == 200 && first.body.contains("/first"))
            #expect(second.status == 404)
            #expect(third.status == 200 && third.body.contains("/third"))
            #expect(first.header("x-request-id") != nil && first.header("x-request-id") != third.header("x-request-id"))
        }
    }

    @Test("Pipelined requests with bodies each reach the function whole, in order")
    func pipelinedBodies() async throws {
        try await withGatehouse(fixtureFunction(name: "wire")) { gatehouse in
            _ = try await gatehouse.request("wire")
            let connection = try RawConnection(url: gatehouse.ingress)
            let bodies = [String(repeating: "a", count: 10), String(repeating: "b", count: 70_000), "c"]
            try connection.send(bodies.map {
                "POST /echo HTTP/1.1\r\nHost: wire.default.localhost\r\nContent-Length: \($0.utf8.count)\r\n\r\n\($0)"
            }.joined())
            for body in bodies {
                let response = try await connection.readResponse()
                #expect(response.status == 200)
                #expect(response.body.contains("\"length\": \(body.utf8.count)"))
            }
        }
    }

    @Test("An error answered before the request body was read says Connection: close, and closes")
    func earlyErrorWithBody() async throws {
        try await withGatehouse(fixtureFunction(name: "wire")) { gatehouse in
            let connection = try RawConnection(url: gatehouse.ingress)
            // Headers only: the body is promised but never sent.
            try connection.send("POST / HTTP/1.1\r\nHost: nobody.default.localhost\r\nContent-Length: 100\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 404)
            #expect(response.header("connection") == "close")
            #expect(try await connection.waitForClose())
        }
    }

    @Test("A malformed request gets 400 in the JSON shape, then the connection closes")
    func malformed() async throws {
        try await withGatehouse(fixtureFunction(name: "wire")) { gatehouse in
            let connection = try RawConnection(url: gatehouse.ingress)
            try connection.send("GET / HTTP/1.1\r\nHost wire.default.localhost\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 400)
            #expect(response.body.contains("\"code\":\"bad_request\""))
            #expect(try await connection.waitForClose())
        }
    }

    @Test("An idle client connection is closed after the idle timeout, before or after a request")
    func idleConnections() async throws {
        try await withGatehouse(fixtureFunction(name: "wire"), arguments: ["--client-idle-timeout", "1s"]) { gatehouse in
            let silent = try RawConnection(url: gatehouse.ingress)
            #expect(try await silent.waitForClose(), "a client that never sends a request is let go")
            let served = try RawConnection(url: gatehouse.ingress)
            try served.send("GET / HTTP/1.1\r\nHost: wire.default.localhost\r\n\r\n")
            #expect(try await served.readResponse().status == 200)
            #expect(try await served.waitForClose(), "a kept-alive connection is closed once idle")
        }
    }

    @Test("Connection: close is honoured after the response")
    func connectionClose() async throws {
        try await withGatehouse(fixtureFunction(name: "wire")) { gatehouse in
            let connection = try RawConnection(url: gatehouse.ingress)
            try connection.send("GET / HTTP/1.1\r\nHost: wire.default.localhost\r\nConnection: close\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.header("connection") == "close")
            #expect(try await connection.waitForClose())
        }
    }
}
