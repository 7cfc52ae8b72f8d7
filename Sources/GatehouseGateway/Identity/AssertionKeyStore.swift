import Crypto
import Foundation
import GatehouseAuthentication
import GatehouseCore
import GatehouseIdentity
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import SwiftASN1
import X509

/// Gatehouse's assertion signing key, kept under its CA: a P-256 key and an X.509-SVID for the
/// gateway's own ID (`spiffe://TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse`) issued by the mesh CA,
/// published with its chain (`x5c`) in the JWKS.
///
/// Kept in `STATE_DIR/issuer/` (0700): `signing-key.pem` (0600), `signing-cert.pem` (the leaf and
/// the CA's chain) and `previous-cert.pem` (the certificate of the key it replaced, public only).
/// A new key is made when there is none, when its certificate has lived half its seven days, or
/// when the CA's signer changed (`gatehouse ca rotate`). The replaced key stays published until the
/// next rotation — days, where the tokens it signed live a minute — so a token signed just before
/// a rotation still verifies. As a service it rotates at the half-life while Gatehouse runs.
final class AssertionKeyStore: Service, Sendable {
    static let lifetime: Duration = .seconds(7 * 24 * 3600)

    let id: SPIFFEID
    let issuerURL: String
    private let directory: URL
    private let issuer: GatehouseIssuer
    private let authority: @Sendable () -> CertificateAuthority
    private let logger: Logger
    private let current = NIOLockedValueBox<Certificate?>(nil)

    init(
        directory: URL, issuerURL: String, trustDomain: String, namespace: String, issuer: GatehouseIssuer, logger: Logger,
        authority: @escaping @Sendable () -> CertificateAuthority
    ) {
        self.directory = directory
        self.issuerURL = issuerURL
        self.issuer = issuer
        self.authority = authority
        self.logger = logger
        id = SPIFFEID(trustDomain: trustDomain, namespace: namespace, serviceAccount: ReservedServiceAccounts.gateway)
    }

    /// Loads the stored key, or makes a new one, and installs it into the issuer.
    func refresh(now: Date = Date()) throws {
        try current.withLockedValue { current in
            let authority = authority()
            if let certificate = current, Self.usable(certificate, under: authority, now: now) { return }
            var previous: Certificate? = try? Self.certificates(in: previousFile).first
            if let stored = try? load(), Self.usable(stored.certificate, under: authority, now: now) {
                install(key: stored.key, chain: stored.chain, previous: previous)
                current = stored.certificate
                return
            }
            // The one being replaced stays published; the one before it goes.
            if let replaced = try? Self.certificates(in: certificateFile).first {
                previous = replaced
                try CertificateAuthority.writePrivate(try replaced.serializeAsPEM().pemString + "\n", to: previousFile)
            }
            let key = P256.Signing.PrivateKey()
            let certificate = try authority.issue(id, publicKey: Certificate.PublicKey(key.publicKey), lifetime: Self.lifetime, now: now)
            let chain = [certificate] + authority.chain
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try CertificateAuthority.writePrivate(key.pemRepresentation + "\n", to: keyFile)
            try CertificateAuthority.writePrivate(try chain.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n", to: certificateFile)
            install(key: key, chain: chain, previous: previous)
            current = certificate
            logger.info("assertion signing key made", metadata: ["kid": "\(AssertionSigningKey(key: key).kid)"])
        }
    }

    /// Rotates at half-life while running; a CA rotation is picked up at the next check too.
    func run() async throws {
        while !Task.isCancelled {
            let next = current.withLockedValue { certificate in
                certificate.map { $0.notValidBefore + Self.halfLife } ?? Date()
            }
            // At most an hour between checks, so a CA rotation is followed within one.
            let wait = max(1, min(next.timeIntervalSinceNow, 3600))
            // A shutdown ends the wait at once.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(wait)) }
            guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
            do { try refresh() } catch { logger.error("cannot rotate the assertion signing key: \(error)") }
        }
    }

    private static var halfLife: TimeInterval { TimeInterval(lifetime.components.seconds) / 2 }

    private func install(key: P256.Signing.PrivateKey, chain: [Certificate], previous: Certificate?) {
        let der = chain.compactMap { try? Data(Self.der($0)).base64EncodedString() }
        var published: [PublishedKey] = []
        if let previous, let point = P256.Signing.PublicKey(previous.publicKey),
           let encoded = try? Data(Self.der(previous)).base64EncodedString() {
            published.append(PublishedKey(publicKey: point, certificateChain: [encoded]))
        }
        issuer.install(IssuerKeyRing(issuer: issuerURL, signing: AssertionSigningKey(key: key, certificateChain: der), previous: published))
    }

    /// Signed by the CA's current signer, with more than half its life left.
    private static func usable(_ certificate: Certificate, under authority: CertificateAuthority, now: Date) -> Bool {
        certificate.issuer == authority.signer.subject
            && authority.signer.publicKey.isValidSignature(certificate.signature, for: certificate)
            && certificate.notValidAfter.timeIntervalSince(now) > halfLife && certificate.notValidBefore <= now
    }

    private var keyFile: URL { directory.appendingPathComponent("signing-key.pem") }
    private var certificateFile: URL { directory.appendingPathComponent("signing-cert.pem") }
    private var previousFile: URL { directory.appendingPathComponent("previous-cert.pem") }

    private func load() throws -> (key: P256.Signing.PrivateKey, certificate: Certificate, chain: [Certificate]) {
        let key = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: keyFile, encoding: .utf8))
        let chain = try Self.certificates(in: certificateFile)
        guard let leaf = chain.first, Certificate.PublicKey(key.publicKey) == leaf.publicKey else {
            throw IdentityError("the assertion signing key does not match its certificate")
        }
        return (key, leaf, chain)
    }

    private static func certificates(in file: URL) throws -> [Certificate] {
        let text = try String(contentsOf: file, encoding: .utf8)
        return try PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }
    }

    private static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }
}
