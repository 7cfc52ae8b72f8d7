import Foundation
import GatehouseCore
import GatehouseExchange
import GatehouseIdentity
import GatehouseListener
import Logging
import NIOSSL
import X509

/// The HTTPS servers of the config's Gateways, as TLS listeners beside the ingress (same host,
/// the server's port), read at start.
///
/// Servers sharing a port share a listener: the certificate is chosen by the client's SNI among
/// their `hosts` (the first server's when none matches). `MUTUAL` requires a client certificate: an
/// X.509-SVID chaining to `caCertificates` (of any trust domain, so another mesh's workloads can
/// call). Its SPIFFE ID becomes the request's source principal only when it names the mesh's trust
/// domain or an alias (`Mesh.trustDomainAliases`); any other is an external identity, shown to
/// policy as `connection.uri_san_peer_certificate` and to the function in `X-Forwarded-Client-Cert`.
struct GatewayServers {
    struct Listener {
        let port: Int
        let servers: [GatewaySpec.Server]
        let tls: ListenerTLS
    }

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    static func listeners(for gateways: [GatewaySpec], credentials: URL, mesh: MeshIdentity, logger: Logger) throws -> [Listener] {
        var byPort: [Int: [(GatewaySpec, GatewaySpec.Server)]] = [:]
        for gateway in gateways {
            for server in gateway.servers where server.protocol == "HTTPS" && server.tls != nil {
                byPort[server.port, default: []].append((gateway, server))
            }
        }
        return try byPort.keys.sorted().map { port in
            let servers = byPort[port]!
            return Listener(port: port, servers: servers.map(\.1), tls: try tls(for: servers, credentials: credentials, mesh: mesh, logger: logger))
        }
    }

    private struct Credentials {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        let roots: [NIOSSLCertificate]
    }

    private static func tls(
        for servers: [(GatewaySpec, GatewaySpec.Server)], credentials folder: URL, mesh: MeshIdentity, logger: Logger
    ) throws -> ListenerTLS {
        let loaded = try servers.map { gateway, server in
            do {
                return try load(server.tls!, credentials: folder)
            } catch {
                throw Problem(description: "Gateway \(gateway.reference) (\(gateway.source?.description ?? "")), port \(server.port): \(error)")
            }
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: loaded[0].chain.map { .certificate($0) }, privateKey: .privateKey(loaded[0].key))
        configuration.minimumTLSVersion = .tlsv12
        let hosts = servers.map(\.1)
        if hosts.count > 1 {
            let sources = loaded
            configuration.sslContextCallback = { values, promise in
                // SNI picks the server whose hosts name it; the first otherwise.
                guard let name = values.serverHostname, let index = hosts.firstIndex(where: { $0.serves(name) }), index > 0 else {
                    promise.succeed(.noChanges)
                    return
                }
                var override = NIOSSLContextConfigurationOverride()
                override.certificateChain = sources[index].chain.map { .certificate($0) }
                override.privateKey = .privateKey(sources[index].key)
                promise.succeed(override)
            }
        }
        configuration = ListenerTLS.recordingServerName(ListenerTLS.negotiatingHTTP2(configuration))  // `connection.sni`; h2 by ALPN
        guard servers[0].1.tls?.mode == .mutual else {
            return ListenerTLS(serverOnly: try NIOSSLContext(configuration: configuration))
        }
        let roots = loaded.flatMap(\.roots)
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(roots)
        let verifier = SVIDVerifier(trustDomain: nil, bundle: try roots.map { try Certificate(derEncoded: $0.toDERBytes()) })
        // The mesh's own workloads are admitted only where the server trusts the mesh's CA.
        let meshRoots = mesh.authority.bundle
        let trustsMesh = verifier.bundle.contains { meshRoots.contains($0) }
        let verified = MeshIdentity.VerifiedChains()
        return ListenerTLS(
            context: try NIOSSLContext(configuration: configuration),
            known: { leaf in (try? leaf.toDERBytes()).flatMap(verified.lookup) ?? (trustsMesh ? mesh.remembered(leaf) : nil) }
        ) { chain in
            // An SVID naming the mesh's own trust domain must come from the mesh's CA — and only
            // where the server trusts that CA: another CA cannot speak for the mesh's workloads.
            if let leaf = try? chain.first.map({ try Certificate(derEncoded: $0.toDERBytes()) }),
               case .success(let id) = SVIDVerifier.spiffeID(of: leaf), id.trustDomain == mesh.trustDomain {
                return trustsMesh ? await mesh.checkClient(chain) : nil
            }
            return await MeshIdentity.check(chain, verifier: verifier, verified: verified, meshTrustDomains: mesh.meshTrustDomains, logger: logger)
        }
    }

    /// The server's certificate, key and (for MUTUAL) CA certificates, from files or
    /// `STATE_DIR/credentials/NAME/{tls.crt,tls.key,ca.crt}`; errors name the file, never its contents.
    private static func load(_ tls: GatewaySpec.ServerTLS, credentials: URL) throws -> Credentials {
        var (certificate, key, ca) = (tls.serverCertificate, tls.privateKey, tls.caCertificates)
        if let name = tls.credentialName {
            certificate = certificate ?? CredentialFiles.file(name, "tls.crt", in: credentials)
            key = key ?? CredentialFiles.file(name, "tls.key", in: credentials)
            ca = ca ?? CredentialFiles.file(name, "ca.crt", in: credentials)
        }
        guard let certificate, let key else { throw Problem(description: "no server certificate") }
        let chain = try CredentialFiles.read(certificate, "serverCertificate") { try NIOSSLCertificate.fromPEMFile($0) }
        let privateKey = try CredentialFiles.read(key, "privateKey") { try NIOSSLPrivateKey(file: $0, format: .pem) }
        var roots: [NIOSSLCertificate] = []
        if tls.mode == .mutual, let ca {
            roots = try CredentialFiles.read(ca, "caCertificates") { try NIOSSLCertificate.fromPEMFile($0) }
        }
        return Credentials(chain: chain, key: privateKey, roots: roots)
    }
}

/// A gateway server answers only its `hosts`; a request for another gets 404 `NR`, as from
/// Istio's gateway, before any stage runs.
struct GatewayHostFilter: ExchangeProcessor {
    let servers: [GatewaySpec.Server]
    let next: any ExchangeProcessor

    func begin(_ exchange: Exchange) {
        let host = exchange.record.host
        guard servers.contains(where: { $0.serves(host) }) else {
            exchange.record.responseFlags.insert(.noRoute)
            exchange.fail(GatehouseError(.routeNotFound, detail: "host \(host) is not among this gateway server's hosts"))
            return
        }
        next.begin(exchange)
    }
}
