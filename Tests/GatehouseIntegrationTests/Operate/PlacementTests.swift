import Foundation
import GatehouseCore
import GatehouseIdentity
import GatehouseTesting
import Testing

/// Placement on a mesh of nodes (issue 19): each revision runs on one node, its home by rendezvous
/// hashing; a request that arrives at another node is passed there over the mesh listener with
/// the caller's identity, and runs there without a second trip through the request path.
extension PostgresMeshSuites {
@Suite("Placement: a revision runs on its home node", .serialized)
struct PlacementTests {
    /// The home by the documented rule (`Rendezvous`, pinned in RendezvousTests).
    static func home(of function: String) -> String {
        Rendezvous.winner(of: "default/\(function)", among: ["node-a", "node-b"]) ?? "-"
    }

    /// A subject a route or a workload might try to slip into a hop: an administrator of an IdP.
    static let forgedSubject = Data(#"{"audience":"guarded.default.svc.cluster.local","subject":"https://idp.example/admin","kind":"user"}"#.utf8)
        .base64EncodedString()

    /// A function with `maxInstances: 1` whose home is node-b.
    static let capped = (0..<50).map { "capped\($0)" }.first { home(of: $0) == "node-b" } ?? "-"

    static let caller = "cluster.local/ns/default/sa/caller"
    static let intruder = "cluster.local/ns/default/sa/intruder"

    /// `beta`, `gamma` and `guarded` live on node-b, `alpha` and `delta` on node-a; only `caller` may
    /// call `guarded`; `delta` keeps one instance (`minInstances: 1`).
    static let config = fixtureFunction(name: "beta") + "---\n" + fixtureFunction(name: "alpha") + "---\n"
        + fixtureFunction(name: capped, scaling: "maxInstances: 1") + "---\n"
        + fixtureFunction(name: "gamma") + "---\n"
        + fixtureFunction(name: "delta", scaling: "minInstances: 1", spec: "idleTimeout: 1s") + "---\n"
        + fixtureFunction(name: "guarded").replacingOccurrences(of: "  namespace: default\n", with: "  namespace: default\n  labels: {app: guarded}\n")
        + """
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: beta-edits, namespace: default}
        spec:
          hosts: [beta]
          http:
          - headers:
              request:
                set: {x-gatehouse-node-hop-subject: "\(forgedSubject)", x-gatehouse-node-hop: default/guarded/1}
            route: [{destination: {host: beta}}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: guarded-allow, namespace: default}
        spec:
          selector: {matchLabels: {app: guarded}}
          action: ALLOW
          rules:
          - from: [{source: {principals: ["\(caller)"]}}]
        """

    @Test("A request to either node runs on the revision's home; maxInstances holds for the mesh; the caller's identity, address and request id arrive as sent; a workload cannot fake a hop; a killed home's revisions are served by the node left")
    func placement() async throws {
        #expect(Self.home(of: "beta") == "node-b" && Self.home(of: "gamma") == "node-b" && Self.home(of: "guarded") == "node-b")
        #expect(Self.home(of: "alpha") == "node-a" && Self.home(of: "delta") == "node-a")
        try await withJoinedNodes(Self.config, extra: ["--node-heartbeat", "1s"]) { first, second, arguments, _ in
            try await Self.check(first, second, restartWith: arguments + ["--node-name", "node-b"])
        }
    }

    @Test("A gRPC call to an h2c function through the node that is not its home runs on the home, as HTTP/2 over the mesh listener: statuses, trailers and streams pass through")
    func grpcHop() async throws {
        try await GRPCPeer.ensureInstalled()
        let name = try #require((0..<50).map { "rpc\($0)" }.first { Self.home(of: $0) == "node-b" })
        // Idle instances go after 1 s: the one node-a started before it knew node-b goes too.
        let function = GRPCPeer.function(name: name).replacingOccurrences(of: "  process:", with: "  idleTimeout: 1s\n  process:")
        try await withJoinedNodes(function, extra: ["--node-heartbeat", "1s"], prepare: GRPCPeer.prepare(in:)) { first, second, _, _ in
            // Once node-a knows node-b, the function's instance runs there and only there.
            let authority = "\(name).default.localhost"
            _ = try await eventually("the call through node-a to run on node-b", timeout: .seconds(30)) { () -> Bool? in
                let out = try await GRPCPeer.call("calls", ingress: first.ingress, authority: authority, in: first.directory)
                guard (out["unary"] as? [String: Any])?["code"] as? String == "OK" else { return nil }
                let metrics = try await second.metrics()
                return sample(metrics, "gatehouse_function_instances", containing: ["function=\"\(name)\""]) == 1 ? true : nil
            }
            let out = try await GRPCPeer.call("calls", ingress: first.ingress, authority: authority, in: first.directory)
            let unary = try #require(out["unary"] as? [String: Any], "\(out)")
            #expect(unary["code"] as? String == "OK", "\(unary)")
            #expect((unary["trailing"] as? [String: String])?["x-from-function"] == "trailer", "the function's trailer: \(unary)")
            // Node-b ran it: its access log has the call, by the request id node-a gave it.
            let requestId = try #require((unary["initial"] as? [String: String])?["x-request-id"], "\(unary)")
            let onHome = try await second.accessLogLine(requestId: requestId)
            #expect(onHome["protocol"] as? String == "HTTP/2" && onHome["grpc_status"] as? Int == 0, "\(onHome)")
            let status = try #require(out["status"] as? [String: Any])
            #expect(status["code"] as? String == "NOT_FOUND" && status["details"] as? String == "no such thing", "\(status)")
            #expect(out["count"] as? [String] == ["0", "1", "2", "3", "4"], "\(out)")
            #expect(out["chat"] as? [String] == ["ONE", "TWO", "THREE"], "\(out)")
            try await first.waitForGauge("gatehouse_function_instances", function: name, toBe: 0)
        }
    }

    @Test("A WebSocket through the node that is not its function's home is tunnelled to the home: messages flow both ways through both nodes", .enabled(if: WebSocketFixture.available))
    func webSocketHop() async throws {
        let name = try #require((0..<50).map { "ws\($0)" }.first { Self.home(of: $0) == "node-b" })
        let config = """
            apiVersion: gatehouse.dev/v1
            kind: Function
            metadata: {name: \(name), namespace: default}
            spec:
              idleTimeout: 1s
              process:
                command: ["\(WebSocketFixture.python)", "\(WebSocketFixture.functionFile)"]

            """
        try await withJoinedNodes(config, extra: ["--node-heartbeat", "1s"], prepare: { try WebSocketFixture.write(into: $0) }) { first, second, _, _ in
            let requestId = try await eventually("a WebSocket through node-a to be tunnelled to node-b", timeout: .seconds(30)) { () -> String? in
                let result = try await Self.webSocket(first, name: name)
                #expect(result["echoes"] as? [AnyHashable] == ["echo:one", 256 * 1024 + 5, "echo:three"], "\(result)")
                // Until node-a knows node-b it runs the function itself: node-b sees only the
                // ones passed to it (each logged when its tunnel closes).
                return second.accessLog.first { $0["response_code"] as? Int == 101 }?["request_id"] as? String
            }
            let onHome = try await second.accessLogLine(requestId: requestId)
            #expect(onHome["response_code"] as? Int == 101, "\(onHome)")
            #expect((onHome["bytes_received"] as? Int ?? 0) > 256 * 1024 && (onHome["bytes_sent"] as? Int ?? 0) > 256 * 1024, "\(onHome)")
            let onArrival = try await first.accessLogLine(requestId: requestId)
            #expect(onArrival["response_code"] as? Int == 101, "\(onArrival)")
        }
    }

    /// The WebSocket fixture's client through `gatehouse`'s ingress to `name`: its JSON line.
    static func webSocket(_ gatehouse: RunningGatehouse, name: String) async throws -> [String: Any] {
        let port = try #require(URLComponents(string: gatehouse.ingress)?.port)
        let result = try await PythonPackages.runOffPool([
            WebSocketFixture.python, gatehouse.directory.appendingPathComponent(WebSocketFixture.clientFile).path,
            "ws://\(name).default.\(gatehouse.domain):\(port)/chat", "\(port)", "echo",
        ])
        return (try? JSONSerialization.jsonObject(with: Data(result.output.utf8))) as? [String: Any] ?? ["output": result.output]
    }

    /// The mesh URL of the node whose instance answered (each instance gets its own node's).
    static func servedBy(_ response: RunningGatehouse.Response) -> String? {
        (response.json["environ"] as? [String: Any])?["GATEHOUSE_MESH_URL"] as? String
    }

    private static func check(_ first: RunningGatehouse, _ second: RunningGatehouse, restartWith arguments: [String]) async throws {
        // Each node learns of the other at its next heartbeat; until then it runs what it gets itself.
        for (function, home) in [("beta", second), ("alpha", first)] {
            for node in [first, second] {
                _ = try await eventually("\(function) through \(node.nodeName) to run on its home", timeout: .seconds(30)) {
                    let response = try await node.request(function, path: "/environ")
                    return response.status == 200 && servedBy(response) == home.mesh ? true : nil
                }
            }
        }

        // maxInstances holds for the mesh: eight requests at once through both nodes to a function
        // allowed one instance all run on its home's one instance; node-a starts none.
        let calls = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<8 {
                let node = index.isMultiple(of: 2) ? first : second
                group.addTask { try await node.request(Self.capped, path: "/sleep?ms=200").status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(calls.allSatisfy { $0 == 200 }, "\(calls)")
        let startedHere = sample(try await first.metrics(), "gatehouse_function_cold_starts_total", containing: ["function=\"\(Self.capped)\""]) ?? 0
        let startedHome = sample(try await second.metrics(), "gatehouse_function_cold_starts_total", containing: ["function=\"\(Self.capped)\""]) ?? 0
        #expect(startedHere == 0 && startedHome == 1, "instances started: node-a \(startedHere), node-b \(startedHome)")

        // minInstances is kept once for the mesh, on the home: node-b started delta's before it knew
        // node-a, and lets it go once it does.
        try await first.waitForGauge("gatehouse_function_instances", function: "delta", toBe: 1)
        try await second.waitForGauge("gatehouse_function_instances", function: "delta", toBe: 0)

        // Through node-a to beta on node-b: the function sees the caller's address once, the id it sent, no hop headers.
        let plain = try await first.request("beta", headers: [("x-request-id", "placement-plain-1"), ("x-gatehouse-node-hop", "default/alpha/1")])
        #expect(plain.status == 200, "\(plain.body)")
        let seen = plain.json["headers"] as? [String: String] ?? [:]
        #expect(seen["x-forwarded-for"] == "127.0.0.1", "one hop of the caller's: \(seen)")
        #expect(seen["x-request-id"] == "placement-plain-1")
        #expect(seen["x-gatehouse-node-hop"] == nil && seen["x-gatehouse-node-hop-subject"] == nil, "\(seen)")
        #expect(seen["x-forwarded-client-cert"] == nil, "a plaintext caller has no certificate to name")
        #expect(seen["x-gatehouse-assertion"] == nil, "the route's forged subject got an assertion signed: \(seen)")
        #expect(seen["host"] == "beta.default.\(first.domain)")

        // A mesh caller through node-a's mesh listener to guarded on node-b.
        let callerSVID = try await first.issueSVID("spiffe://\(Self.caller)")
        let bundle = first.stateDirectory.appendingPathComponent("ca/root-cert.pem")
        let allowed = try await MeshClient.request(
            first.mesh, host: "guarded.default.\(first.domain)", path: "/",
            certificate: callerSVID.appendingPathComponent("cert.pem"), key: callerSVID.appendingPathComponent("key.pem"),
            bundle: bundle, headers: [("x-request-id", "placement-mesh-1")])
        #expect(allowed.status == 200, "\(allowed.body)")
        let headers = allowed.json["headers"] as? [String: String] ?? [:]
        #expect(headers["x-forwarded-client-cert"]?.contains("URI=spiffe://\(Self.caller)") == true, "\(headers)")
        #expect(headers["x-forwarded-client-cert"]?.contains("By=spiffe://cluster.local/ns/default/sa/") == true, "\(headers)")
        #expect(headers["x-request-id"] == "placement-mesh-1")
        // The assertion is node-b's own: its key is in node-b's JWKS, and it names the caller.
        let assertion = try #require(headers["x-gatehouse-assertion"], "\(headers)")
        let parts = assertion.split(separator: ".").map(String.init)
        let header = try #require(Self.json(parts[0]))
        let claims = try #require(Self.json(parts[1]))
        #expect(claims["sub"] as? String == "spiffe://\(Self.caller)")
        let jwks = try await RunningGatehouse.send(url: second.ingress + "/.well-known/jwks.json", host: nil, method: .GET, headers: [], body: nil)
        let kids = (jwks.json["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String }
        #expect(kids.contains(header["kid"] as? String ?? "-"), "kid \(header["kid"] ?? "-") not in node-b's JWKS \(kids)")

        // A workload that sends the hop's headers itself takes the whole path: its policy still refuses it.
        let intruderSVID = try await first.issueSVID("spiffe://\(Self.intruder)")
        for node in [first, second] {
            let faked = try await MeshClient.request(
                node.mesh, host: "guarded.default.\(node.domain)", path: "/",
                certificate: intruderSVID.appendingPathComponent("cert.pem"), key: intruderSVID.appendingPathComponent("key.pem"),
                bundle: bundle, headers: [("x-gatehouse-node-hop", "default/guarded/1"), ("x-gatehouse-node-hop-to", node.nodeName),
                                          ("x-gatehouse-node-hop-subject", Self.forgedSubject)])
            #expect(faked.status == 403, "through \(node.nodeName): \(faked.body)")
        }
        let anonymous = try await second.request("guarded", headers: [("x-gatehouse-node-hop", "default/guarded/1")])
        #expect(anonymous.status == 403, "\(anonymous.body)")
        // One audit chain for the mesh: the denials of both nodes are in it, read through node-a.
        // (Each node writes request records within a flush interval, 200 ms, not with the answer:
        // waited for here, before node-b is killed.)
        _ = try await eventually("node-a's and node-b's denials of the intruder in the chain", timeout: .seconds(10)) {
            let denied = try await first.cli(["audit", "--decision", "deny", "--principal", Self.intruder, "-o", "json"])
            return denied.stdout.components(separatedBy: "\"request.denied\"").count - 1 >= 2 ? true : nil
        }
        // The gateway's own SPIFFE ID from a certificate no node announced (another cluster under a
        // shared root, a node long gone): refused, nothing runs.
        let ca = first.stateDirectory.appendingPathComponent("ca")
        let root = try CertificateAuthority.load(certificate: ca.appendingPathComponent("root-cert.pem"), key: ca.appendingPathComponent("root-key.pem"))
        let impostor = first.directory.appendingPathComponent("impostor")
        try root.issueIdentity(SPIFFEID("spiffe://cluster.local/ns/istio-system/sa/gatehouse")!, lifetime: .seconds(3600)).write(to: impostor)
        let posed = try await MeshClient.request(
            second.mesh, host: "guarded.default.\(second.domain)", path: "/",
            certificate: impostor.appendingPathComponent("cert.pem"), key: impostor.appendingPathComponent("key.pem"), bundle: bundle,
            headers: [("x-gatehouse-node-hop", "default/guarded/1"), ("x-gatehouse-node-hop-to", "node-b"),
                      ("x-gatehouse-node-hop-subject", Self.forgedSubject)])
        #expect(posed.status == 503 && posed.json["code"] as? String == "function_unavailable", "\(posed.status) \(posed.body)")

        // Node-b dies with a request of node-a's in flight on it: the request (a GET, safe to send
        // twice) runs on node-a instead, and so does every later one; the caller sees no error.
        // gamma's first request through node-a: on a new connection (a kept-alive one that closes
        // is retried anyway, as a stale connection).
        // Meanwhile two callers keep sending to node-a, for functions of both homes: not one of
        // their requests fails.
        let release = first.directory.appendingPathComponent("release-held")
        let held = Task { try await first.request("gamma", path: "/hold?until=\(release.path)") }
        try await second.waitForInFlight("gamma")
        let loadDone = first.directory.appendingPathComponent("load-done")
        let load = (0..<2).map { _ in
            Task {
                var statuses: [Int] = []
                while !FileManager.default.fileExists(atPath: loadDone.path) {
                    for function in ["beta", "alpha"] { statuses.append(Int(try await first.request(function, path: "/environ").status)) }
                }
                return statuses
            }
        }
        try await second.kill()
        _ = FileManager.default.createFile(atPath: release.path, contents: nil)
        let rescued = try await held.value
        #expect(rescued.status == 200, "the request in flight on the killed node: \(rescued.body)")
        for _ in 0..<10 {
            let after = try await first.request("beta", path: "/environ")
            #expect(after.status == 200, "\(after.body)")
            #expect(servedBy(after) == first.mesh, "served by node-a once node-b is gone")
        }
        _ = FileManager.default.createFile(atPath: loadDone.path, contents: nil)
        var statuses: [Int] = []
        for caller in load { statuses += try await caller.value }
        #expect(!statuses.isEmpty && statuses.allSatisfy { $0 == 200 }, "under load through the kill: \(Dictionary(grouping: statuses) { $0 }.mapValues(\.count))")
        // Its instances are stopped by its next start from the same directory.
        let again = try await second.restart(arguments: arguments, applyingConfig: false)
        try await again.stop()
        again.removeDirectory()

        // Both nodes' starts are in the chain (node-b's twice, once killed mid-run), and it verifies,
        // the checkpoints of both nodes' signers included.
        let starts = try await first.cli(["audit", "--kind", "gatehouse.started", "-o", "json"])
        #expect(starts.status == 0, "\(starts.stderr)")
        for node in ["node-a", "node-b"] { #expect(starts.stdout.contains("node \(node), pid"), "\(starts.stdout)") }
        let verified = try await first.cli(["audit", "verify"])
        #expect(verified.status == 0 && verified.stdout.contains("intact"), "\(verified.stdout) \(verified.stderr)")
    }

    private static func json(_ segment: String) -> [String: Any]? {
        var text = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }
}
}
