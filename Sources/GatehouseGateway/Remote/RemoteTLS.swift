import Foundation
import GatehouseCore
import GatehouseFunctions
import GatehouseIdentity
import NIOSSL
import X509

/// How the gateway speaks TLS to a remote function, from its DestinationRule's
/// `trafficPolicy.tls` (Istio's `ClientTLSSettings`) or, without one, from the URL: `https` is
/// `SIMPLE` (the server verified against the system's roots and the URL's host), `http` plaintext.
///
/// - `SIMPLE`: server verified; `caCertificates` replaces the system roots; `subjectAltNames`
///   replace the host check (one of them must be a DNS or URI name in the server's certificate);
///   `sni` is sent instead of the host; `insecureSkipVerify` turns verification off.
/// - `MUTUAL`: as SIMPLE, presenting `clientCertificate` / `privateKey`.
/// - `ISTIO_MUTUAL`: presents the function's own SVID; the server must present an SVID of the
///   mesh's trust domain chaining to its bundle (and match `subjectAltNames` when given).
/// - `credentialName: NAME` reads `STATE_DIR/credentials/NAME/{tls.crt,tls.key,ca.crt}`.
///
/// Files are read when the config is applied; a missing or unreadable one fails the apply.
enum RemoteTLS {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    static func settings(
        for spec: FunctionSpec, endpoint: RemoteEndpoint, rule: DestinationRuleSpec?, credentials: URL, identities: FunctionIdentities
    ) throws(Problem) -> (tls: UpstreamTLS?, mode: DestinationRuleSpec.ClientTLSSettings.Mode) {
        let settings = rule?.tls ?? .init(mode: endpoint.secure ? .simple : .disable)
        let named = endpoint.hostIsAddress ? nil : endpoint.host
        let serverName = settings.sni ?? named
        let wanted = settings.subjectAltNames
        switch settings.mode {
        case .disable:
            return (nil, .disable)
        case .istioMutual:
            let tls = UpstreamTLS(
                serverHostname: serverName, context: { try identities.meshClientContext(for: spec) },
                checkPeer: { leaf in checkSVID(leaf, trustDomain: identities.trustDomain, wanted: wanted) })
            return (tls, .istioMutual)
        case .simple, .mutual:
            let context: NIOSSLContext
            do {
                context = try makeContext(settings, credentials: credentials)
            } catch {
                throw Problem(description: "DestinationRule \(rule?.reference ?? "-") (\(rule?.source?.description ?? "")): trafficPolicy.tls: \(error)")
            }
            let tls = UpstreamTLS(
                serverHostname: serverName, context: { context },
                checkPeer: { leaf in wanted.isEmpty || settings.insecureSkipVerify ? nil : checkNames(leaf, wanted: wanted) })
            return (tls, settings.mode)
        }
    }

    private static func makeContext(_ settings: DestinationRuleSpec.ClientTLSSettings, credentials: URL) throws -> NIOSSLContext {
        var certificate = settings.clientCertificate
        var key = settings.privateKey
        var roots = settings.caCertificates
        if let name = settings.credentialName {
            let folder = credentials.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: folder.path) else {
                throw Problem(description: "credentialName \(name): no directory \(folder.path) (it holds tls.crt, tls.key and ca.crt)")
            }
            certificate = certificate ?? CredentialFiles.file(name, "tls.crt", in: credentials)
            key = key ?? CredentialFiles.file(name, "tls.key", in: credentials)
            let ca = CredentialFiles.file(name, "ca.crt", in: credentials)
            if roots == nil, FileManager.default.fileExists(atPath: ca) { roots = ca }
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let roots {
            configuration.trustRoots = .certificates(try CredentialFiles.read(roots, "caCertificates") { try NIOSSLCertificate.fromPEMFile($0) })
        }
        configuration.certificateVerification =
            settings.insecureSkipVerify ? .none : settings.subjectAltNames.isEmpty ? .fullVerification : .noHostnameVerification
        if settings.mode == .mutual {
            guard let certificate, let key else { throw Problem(description: "MUTUAL needs clientCertificate and privateKey (or a credentialName with tls.crt and tls.key)") }
            configuration.certificateChain = try CredentialFiles.read(certificate, "clientCertificate") { try NIOSSLCertificate.fromPEMFile($0) }
                .map { .certificate($0) }
            configuration.privateKey = .privateKey(try CredentialFiles.read(key, "privateKey") { try NIOSSLPrivateKey(file: $0, format: .pem) })
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// ISTIO_MUTUAL: the server's leaf is an SVID of the mesh's trust domain (its chain was
    /// verified against the bundle during the handshake), named in `wanted` when that is given.
    static func checkSVID(_ leaf: NIOSSLCertificate?, trustDomain: String?, wanted: [String]) -> String? {
        guard let leaf, let certificate = try? Certificate(derEncoded: leaf.toDERBytes()) else { return "the server sent no certificate" }
        switch SVIDVerifier.spiffeID(of: certificate) {
        case .failure(let error): return "the server's certificate is not an SVID: \(error)"
        case .success(let id):
            if id.trustDomain != trustDomain { return "the server's SPIFFE ID \(id) is not of trust domain \(trustDomain ?? "-")" }
            if !wanted.isEmpty, !wanted.contains(id.description) { return "the server's SPIFFE ID \(id) is not one of subjectAltNames" }
            return nil
        }
    }

    /// `subjectAltNames`: one of them is a DNS name or URI in the server's certificate.
    static func checkNames(_ leaf: NIOSSLCertificate?, wanted: [String]) -> String? {
        guard let leaf, let certificate = try? Certificate(derEncoded: leaf.toDERBytes()) else { return "the server sent no certificate" }
        let names = ((try? certificate.extensions.subjectAlternativeNames) ?? nil).map { names in
            names.compactMap { name -> String? in
                switch name {
                case .dnsName(let dns): dns.lowercased()
                case .uniformResourceIdentifier(let uri): uri
                default: nil
                }
            }
        } ?? []
        return wanted.contains { names.contains($0.lowercased()) || names.contains($0) }
            ? nil : "the server's certificate names none of subjectAltNames"
    }
}
