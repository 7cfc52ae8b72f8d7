import Foundation
import GatehouseTesting
import Testing

/// WebSocket through the gateway: the upgrade passes every stage like any request, then the bytes
/// flow both ways until either side closes or the connection goes idle.
@Suite("WebSocket upgrades: checked like any request, then proxied both ways", .serialized, .enabled(if: WebSocketFixture.available))
struct WebSocketTests {
    static let config = """
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: ws, namespace: default}
        spec:
          process:
            command: ["\(WebSocketFixture.python)", "\(WebSocketFixture.functionFile)"]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-blocked, namespace: default}
        spec:
          action: DENY
          rules:
          - to: [{operation: {paths: ["/blocked"]}}]

        """

    /// Runs the client against the gateway's ingress and returns its JSON line.
    private func client(_ gatehouse: RunningGatehouse, path: String, mode: String) async throws -> [String: Any] {
        let port = try #require(URLComponents(string: gatehouse.ingress)?.port)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: WebSocketFixture.python)
        process.arguments = [
            gatehouse.directory.appendingPathComponent(WebSocketFixture.clientFile).path,
            "ws://ws.default.\(gatehouse.domain):\(port)\(path)", "\(port)", mode,
        ]
        let output = gatehouse.directory.appendingPathComponent("client-\(UUID().uuidString.prefix(6)).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        let text = try String(contentsOf: output, encoding: .utf8)
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? ["output": text]
    }

    private func withWebSocketFunction(arguments: [String] = [], _ body: (RunningGatehouse) async throws -> Void) async throws {
        try await withGatehouse(Self.config, arguments: arguments, prepare: { try WebSocketFixture.write(into: $0) }, body)
    }

    @Test("Messages flow both ways, a 256 KiB one too; the access log has the 101 with bytes both ways")
    func echo() async throws {
        try await withWebSocketFunction { gatehouse in
            let result = try await client(gatehouse, path: "/chat?room=1", mode: "echo")
            let hello = try #require(result["hello"] as? [String: Any], "\(result)")
            #expect(hello["path"] as? String == "/chat?room=1")
            #expect(hello["x-forwarded-client-cert"] is NSNull, "no identity is claimed for a plaintext caller")
            let requestId = try #require(hello["x-request-id"] as? String)
            #expect(result["echoes"] as? [AnyHashable] == ["echo:one", 256 * 1024 + 5, "echo:three"])
            let line = try await gatehouse.accessLogLine(requestId: requestId)
            #expect(line["response_code"] as? Int == 101)
            #expect((line["bytes_received"] as? Int ?? 0) > 256 * 1024)
            #expect((line["bytes_sent"] as? Int ?? 0) > 256 * 1024)
        }
    }

    @Test("An upgrade a policy denies is refused before the function sees it")
    func denied() async throws {
        try await withWebSocketFunction { gatehouse in
            let result = try await client(gatehouse, path: "/blocked", mode: "echo")
            #expect(result["refused"] as? Int == 403, "\(result)")
        }
    }

    @Test("A tunnel with nothing passing is closed after the client idle timeout")
    func idle() async throws {
        try await withWebSocketFunction(arguments: ["--client-idle-timeout", "1s"]) { gatehouse in
            let result = try await client(gatehouse, path: "/quiet", mode: "idle")
            #expect(result["ended"] as? String == "closed", "\(result)")
            let requestId = try #require((result["hello"] as? [String: Any])?["x-request-id"] as? String)
            let line = try await gatehouse.accessLogLine(requestId: requestId)
            #expect(line["response_code"] as? Int == 101)
        }
    }
}
