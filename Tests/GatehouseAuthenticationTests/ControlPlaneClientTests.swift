import AsyncHTTPClient
import GatehouseOutbound
import GatehouseTesting
import NIOPosix
import Testing

@Suite("The control-plane HTTP client")
struct ControlPlaneClientTests {
    @Test("Statuses and bodies come back whole; redirects are answers; long bodies are cut")
    func answers() async throws {
        let server = try await ExtAuthzFixture.start()
        defer { server.stop() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = ControlPlaneClient(eventLoopGroup: group)
        func ask(_ mode: String) async throws -> ControlPlaneClient.Response {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/check/x")
            request.headers.add(name: "x-ext-authz", value: mode)
            return try await client.execute(request, timeout: .seconds(5), maxBodyBytes: 64 * 1024)
        }
        #expect(try await ask("allow").status == 200)
        let denied = try await ask("deny")
        #expect(denied.status == 403)
        #expect(String(buffer: denied.body) == "denied by ext_authz for /check/x")
        #expect(try await ask("redirect").status == 302)
        let big = try await ask("big")
        #expect(big.truncated && big.body.readableBytes == 64 * 1024)
        #expect(try await ask("allow").status == 200)
        try await client.shutdown()
        try await group.shutdownGracefully()
    }
}
