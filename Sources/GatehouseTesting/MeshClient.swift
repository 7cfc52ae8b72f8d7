import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A caller of the mesh listener: mutual TLS with the given certificate (or none), trusting the
/// given bundle, checking the server's chain but not a host name (SPIFFE identities have none).
/// Redirects are answers to look at, not to follow.
public enum MeshClient {
    public static func request(
        _ url: String, host: String, path: String = "/", method: HTTPMethod = .GET, certificate: URL?, key: URL?, bundle: URL,
        headers: [(String, String)] = [], body: [UInt8]? = nil
    ) async throws -> RunningGatehouse.Response {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(bundle.path)
        tls.certificateVerification = .noHostnameVerification
        if let certificate, let key {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate.path).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key.path, format: .pem))
        }
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: .init(tlsConfiguration: tls, redirectConfiguration: .disallow))
        do {
            var request = HTTPClientRequest(url: url + path)
            request.method = method
            request.headers.add(name: "host", value: host)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response = try await client.execute(request, timeout: .seconds(20))
            let body = try await response.body.collect(upTo: 1 << 20)
            try await client.shutdown()
            return RunningGatehouse.Response(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
