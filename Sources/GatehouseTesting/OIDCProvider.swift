import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real OpenID Connect provider on loopback: `oidc-provider-mock` from PyPI, run as a child
/// process. Tokens come from it through the authorization-code flow, as a browser login would get
/// them: RS256 ID tokens with `iss` its URL, `aud` the client id, and the user's claims.
public final class OIDCProvider: @unchecked Sendable {
    public let port: Int
    public var issuer: String { "http://127.0.0.1:\(port)" }
    private let process: Process

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    static let requirement = "oidc-provider-mock==0.3.4"  // the last that runs on Python 3.11

    /// Starts the provider (on `port`, or a free one) and waits until it serves its discovery document.
    /// `tokenLifetime` (seconds) is its ID and access tokens' lifetime (`--token-max-age`; default an hour).
    /// It issues refresh tokens; its refresh grant returns a new access token and no ID token.
    public static func start(port: Int? = nil, tokenLifetime: Int? = nil) async throws -> OIDCProvider {
        try await PythonPackages.ensure(module: "oidc_provider_mock", requirement: requirement)
        let provider = try OIDCProvider(port: port ?? LoopbackPort.free(), arguments: tokenLifetime.map { ["--token-max-age", String($0)] } ?? [])
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard provider.process.isRunning else {
                throw Unavailable(description: "oidc-provider-mock exited (status \(provider.process.terminationStatus)); install it with `pip install oidc-provider-mock==0.3.4`")
            }
            if let response = try? await provider.get("/.well-known/openid-configuration"), response.status == 200 { return provider }
            try await Task.sleep(for: .milliseconds(100))
        }
        provider.stop()
        throw Unavailable(description: "oidc-provider-mock did not answer on port \(provider.port) within 30 s")
    }

    private init(port: Int, arguments: [String]) throws {
        self.port = port
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "oidc_provider_mock", "--port", String(port), "--host", "127.0.0.1"] + arguments
        process.environment = PythonPackages.environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Gives a user claims that appear in their tokens (`email`, `groups`, …).
    public func setUser(_ subject: String, claims: [String: any Sendable]) async throws {
        let body = try JSONSerialization.data(withJSONObject: claims)
        let response = try await send("/users/\(subject)", method: .PUT, headers: [("content-type", "application/json")], body: body)
        guard response.status == 204 else { throw Unavailable(description: "PUT /users/\(subject): HTTP \(response.status)") }
    }

    /// Revokes every token the provider issued to `subject`: its refresh tokens stop working, as
    /// when an administrator disables the account.
    public func revokeTokens(of subject: String) async throws {
        let response = try await send("/users/\(subject)/revoke-tokens", method: .POST, headers: [], body: nil)
        guard response.status == 204 else { throw Unavailable(description: "POST /users/\(subject)/revoke-tokens: HTTP \(response.status)") }
    }

    /// Logs `subject` in as client `clientID` and returns the ID token the provider issues.
    public func idToken(for subject: String, clientID: String = "gatehouse-test") async throws -> String {
        let redirect = "http://127.0.0.1/callback"
        let query = "client_id=\(clientID)&redirect_uri=\(redirect)&response_type=code&scope=openid%20email%20profile"
        let login = try await send(
            "/oauth2/authorize?\(query)", method: .POST, headers: [("content-type", "application/x-www-form-urlencoded")],
            body: Data("sub=\(subject)".utf8))
        guard let location = login.headers.first(name: "location"), let code = URLComponents(string: location)?
            .queryItems?.first(where: { $0.name == "code" })?.value else {
            throw Unavailable(description: "no authorization code (HTTP \(login.status)): \(login.body.prefix(200))")
        }
        let form = "grant_type=authorization_code&code=\(code)&redirect_uri=\(redirect)&client_id=\(clientID)&client_secret=secret"
        let token = try await send(
            "/oauth2/token", method: .POST, headers: [("content-type", "application/x-www-form-urlencoded")], body: Data(form.utf8))
        guard let object = try JSONSerialization.jsonObject(with: Data(token.body.utf8)) as? [String: Any],
              let idToken = object["id_token"] as? String else {
            throw Unavailable(description: "no id_token (HTTP \(token.status)): \(token.body.prefix(200))")
        }
        return idToken
    }

    /// SIGKILL: the test runner's threads block SIGTERM, and children inherit that mask.
    public func stop() { LoopbackPort.kill(process) }

    deinit { stop() }

    private func get(_ path: String) async throws -> RunningGatehouse.Response {
        try await send(path, method: .GET, headers: [], body: nil)
    }

    /// Redirects are not followed: the authorization code arrives in one.
    private func send(_ path: String, method: HTTPMethod, headers: [(String, String)], body: Data?) async throws -> RunningGatehouse.Response {
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: .init(redirectConfiguration: .disallow))
        do {
            var request = HTTPClientRequest(url: issuer + path)
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response = try await client.execute(request, timeout: .seconds(10))
            let collected = try await response.body.collect(upTo: 1 << 20)
            try await client.shutdown()
            return RunningGatehouse.Response(status: Int(response.status.code), headers: response.headers, body: String(buffer: collected))
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

/// A loopback port nothing listens on right now, and stopping the helpers that listen on them.
public enum LoopbackPort {
    /// Kills a helper process and waits (up to 5 s) until it is gone, so its port is free again.
    static func kill(_ process: Process) {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
    }

    /// Whether something accepts TCP connections on `port` now.
    public static func accepts(_ port: Int) -> Bool {
        (try? ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).flatMap { $0.close() }.wait()) != nil
    }

    /// A port free now, for a server a test starts later. Picked from 10000–19999: below the
    /// kernel's ephemeral range (which every `port 0` listener of the parallel tests draws from)
    /// and below Gatehouse's instance ports, so nobody else is handed it in the meantime.
    public static func free() throws -> Int {
        for _ in 0..<64 {
            let candidate = Int.random(in: 10_000..<20_000)
            if let channel = try? ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: candidate).wait() {
                try channel.close().wait()
                return candidate
            }
        }
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress?.port ?? 0
        try channel.close().wait()
        return port
    }
}
