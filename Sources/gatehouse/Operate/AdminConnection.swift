import ArgumentParser
import AsyncHTTPClient
import Foundation
import GatehouseGateway
import NIOCore
import NIOHTTP1
import NIOSSL

/// How a command finds a running Gatehouse's admin API: the state directory's `endpoints.json`
/// and `admin.token`, or `--admin URL --token-file F` — or, with `--cert` and `--key`, an admin
/// SVID on the admin listener over mutual TLS (no token).
struct AdminConnectionOptions: ParsableArguments {
    @OptionGroup var state: StateDirectoryOption

    @Option(help: "Admin API base URL, e.g. http://127.0.0.1:15000 (default: from STATE_DIR/endpoints.json).")
    var admin: String?

    @Option(help: "File holding the admin token (default: STATE_DIR/admin.token).")
    var tokenFile: String?

    @Option(help: "An SVID (PEM) whose SPIFFE ID is in Mesh.spec.identity.adminIdentities: call the admin API over mutual TLS instead of with the token.")
    var cert: String?

    @Option(help: "The SVID's private key (PEM), with --cert.")
    var key: String?

    @Option(help: "The trust bundle that verifies Gatehouse, with --cert (default: STATE_DIR/ca/root-cert.pem).")
    var cacert: String?

    func connect() throws -> AdminClient {
        if let cert { return try connectWithIdentity(cert: cert) }
        let base = try baseURL { $0.admin }
        let tokenPath = tokenFile ?? StateDirectory.tokenFile(in: state.url).path
        guard let token = try? String(contentsOfFile: tokenPath, encoding: .utf8) else {
            throw CommandFailure("cannot read the admin token from \(tokenPath); pass --token-file FILE")
        }
        return AdminClient(base: base, credential: .token(token.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    private func connectWithIdentity(cert: String) throws -> AdminClient {
        guard let key else { throw CommandFailure("--cert needs --key (the SVID's private key)") }
        let base = try baseURL { endpoints in
            guard let url = endpoints.adminMtls else {
                throw CommandFailure("the running gatehouse has no admin listener over mutual TLS; list SPIFFE IDs in its Mesh's spec.identity.adminIdentities")
            }
            return url
        }
        let bundle = cacert ?? state.url.appendingPathComponent("ca/root-cert.pem").path
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(bundle))
        } catch {
            throw CommandFailure("cannot read the SVID, key or bundle (\(cert), \(key), \(bundle)): \(error)")
        }
        // Gatehouse's SVID names a SPIFFE ID, not a host: the chain to the bundle is what is checked.
        tls.certificateVerification = .noHostnameVerification
        return AdminClient(base: base, credential: .identity(tls))
    }

    private func baseURL(_ choose: (StateDirectory.Endpoints) throws -> String) throws -> String {
        if let admin { return admin.hasSuffix("/") ? String(admin.dropLast()) : admin }
        let endpoints: StateDirectory.Endpoints
        do {
            endpoints = try StateDirectory.readEndpoints(in: state.url)
        } catch {
            throw CommandFailure(
                "no running gatehouse found in \(state.url.path) (endpoints.json missing); start one with `gatehouse up`, pass --state-dir, or --admin URL")
        }
        return try choose(endpoints)
    }
}

/// A small JSON client for `/api/v1/`; a refusal becomes a `CommandFailure` with the server's
/// message and, for config errors, one `file:line:column: field: message` line per problem.
struct AdminClient {
    enum Credential {
        case token(String)
        /// An admin SVID, presented in the TLS handshake.
        case identity(TLSConfiguration)
    }

    let base: String
    let credential: Credential

    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        try decode(T.self, from: try await send(path, method: .GET, body: nil))
    }

    /// The answer's bytes, for bodies in another encoding than `AdminWire`'s (the audit log's).
    func get(_ path: String) async throws -> Data {
        Data(try await send(path, method: .GET, body: nil).readableBytesView)
    }

    func post<T: Decodable>(_ path: String, _ body: some Encodable, as type: T.Type) async throws -> T {
        try decode(T.self, from: try await send(path, method: .POST, body: try AdminWire.encoder.encode(body)))
    }

    /// Streams a plain-text body to `write` as it arrives (`logs --follow`).
    func stream(_ path: String, _ write: (ByteBuffer) -> Void) async throws {
        try await withClient { client in
            let response = try await client.execute(request(path, method: .GET, body: nil), timeout: .hours(24 * 365))
            guard response.status == .ok else {
                throw failure(status: response.status, body: try await response.body.collect(upTo: 1 << 20))
            }
            for try await chunk in response.body { write(chunk) }
        }
    }

    private func send(_ path: String, method: HTTPMethod, body: Data?) async throws -> ByteBuffer {
        try await withClient { client in
            // A change may wait for another and for new instances to start (each up to its
            // startupTimeout): wait for the answer rather than report a failure that did not happen.
            let timeout: TimeAmount = method == .POST ? .hours(1) : .seconds(120)
            let response = try await client.execute(request(path, method: method, body: body), timeout: timeout)
            let bytes = try await response.body.collect(upTo: 64 << 20)
            guard (200..<300).contains(response.status.code) else { throw failure(status: response.status, body: bytes) }
            return bytes
        }
    }

    private func request(_ path: String, method: HTTPMethod, body: Data?) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if case .token(let token) = credential { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        request.headers.add(name: "x-gatehouse-actor", value: Self.actor)
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    private func withClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        try await withCommandEventLoop { group in try await withClient(on: group, body) }
    }

    private func withClient<T>(on group: any EventLoopGroup, _ body: (HTTPClient) async throws -> T) async throws -> T {
        var configuration = HTTPClient.Configuration()
        if case .identity(let tls) = credential { configuration.tlsConfiguration = tls }
        let client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch let error as CommandFailure {
            try? await client.shutdown()
            throw error
        } catch {
            try? await client.shutdown()
            throw CommandFailure("calling the admin API at \(base) failed: \(error)")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, from bytes: ByteBuffer) throws -> T {
        do {
            return try AdminWire.decoder.decode(T.self, from: Data(bytes.readableBytesView))
        } catch {
            throw CommandFailure("unexpected answer from the admin API at \(base): \(error)")
        }
    }

    private func failure(status: HTTPResponseStatus, body: ByteBuffer) -> CommandFailure {
        guard let error = try? AdminWire.decoder.decode(AdminWire.ErrorBody.self, from: Data(body.readableBytesView)) else {
            return CommandFailure("the admin API answered \(status.code) \(status.reasonPhrase)")
        }
        // For a config error the message already lists every diagnostic, one per line.
        return CommandFailure(error.message)
    }

    /// `user@host`, recorded in the history next to the credential that authorized the change.
    static var actor: String {
        let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName
        return "\(user)@\(ProcessInfo.processInfo.hostName)"
    }
}
