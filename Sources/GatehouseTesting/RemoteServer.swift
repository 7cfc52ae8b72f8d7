import Crypto
import Foundation
import GatehouseIdentity
import SwiftASN1
import X509

/// The function fixture run on its own, as a remote function's endpoint would be: plain HTTP, or
/// HTTPS with a certificate from a test CA, optionally requiring client certificates.
public final class RemoteServer: @unchecked Sendable {
    public let port: Int
    private let process: Process

    public struct TLS: Sendable {
        public var certificate: URL
        public var key: URL
        /// Client certificates are required and verified against this CA when given.
        public var clientCA: URL?

        public init(certificate: URL, key: URL, clientCA: URL? = nil) {
            self.certificate = certificate
            self.key = key
            self.clientCA = clientCA
        }
    }

    public static func start(in directory: URL, tls: TLS? = nil, port: Int? = nil) async throws -> RemoteServer {
        let script = try FunctionFixture.write(into: directory)
        let port = try port ?? LoopbackPort.free()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        var environment = ProcessInfo.processInfo.environment
        environment["PORT"] = "\(port)"
        if let tls {
            environment["FIXTURE_TLS_CERT"] = tls.certificate.path
            environment["FIXTURE_TLS_KEY"] = tls.key.path
            environment["FIXTURE_TLS_CLIENT_CA"] = tls.clientCA?.path
        }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let log = directory.appendingPathComponent("remote-\(port).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let server = RemoteServer(port: port, process: process)
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline, process.isRunning {
            if LoopbackPort.accepts(port) { return server }
            try await Task.sleep(for: .milliseconds(50))
        }
        server.stop()
        throw OIDCProvider.Unavailable(description: "the remote fixture did not listen on \(port): \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    public func stop() { LoopbackPort.kill(process) }

    deinit { stop() }
}

/// A small PKI outside the mesh, for servers and clients that are not SPIFFE workloads: a root,
/// and leaves for names, written as PEM files.
public struct TestPKI: Sendable {
    public let authority: CertificateAuthority
    public let directory: URL

    public init(in directory: URL, name: String = "test-pki") throws {
        self.directory = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        authority = try CertificateAuthority.create(trustDomain: "example.test")
        try authority.root.serializeAsPEM().pemString.write(to: rootFile, atomically: true, encoding: .utf8)
    }

    public var rootFile: URL { directory.appendingPathComponent("root.pem") }

    /// A leaf for `dnsNames` (and 127.0.0.1) usable as a server and a client: `NAME.crt`, `NAME.key`.
    @discardableResult
    public func leaf(_ name: String, dnsNames: [String] = ["localhost"], uris: [String] = []) throws -> (certificate: URL, key: URL) {
        let key = P256.Signing.PrivateKey()
        let certificate = try authority.sign(
            publicKey: Certificate.PublicKey(key.publicKey), notValidBefore: Date() - 60, notValidAfter: Date() + 3600,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(
                    dnsNames.map { .dnsName($0) } + uris.map { .uniformResourceIdentifier($0) }
                        + [.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            subject: try DistinguishedName { CommonName(name) })
        let files = (directory.appendingPathComponent("\(name).crt"), directory.appendingPathComponent("\(name).key"))
        try certificate.serializeAsPEM().pemString.write(to: files.0, atomically: true, encoding: .utf8)
        try Certificate.PrivateKey(key).serializeAsPEM().pemString.write(to: files.1, atomically: true, encoding: .utf8)
        return files
    }
}
