import Crypto
import _CryptoExtras
import Foundation
import SwiftASN1
import X509

/// Gatehouse's certificate authority: a root created on first start in the state directory (or the
/// operator's own), which issues X.509-SVIDs to the gateway, functions and external workloads.
///
/// Keys are P-256. An SVID follows the SPIFFE X509-SVID specification: exactly one URI SAN (the
/// SPIFFE ID), not a CA, `digitalSignature` (and `keyEncipherment`-free) key usage, server and
/// client authentication, a short life. The root key file is `0600` and never leaves the directory.
public struct CertificateAuthority: Sendable {
    /// The first root of the trust bundle.
    public var root: Certificate { bundle[0] }
    /// The roots that verify every SVID of the mesh (`gatehouse ca bundle`).
    public let bundle: [Certificate]
    /// The certificate that signs SVIDs: the root itself, or an intermediate under it.
    public let signer: Certificate
    /// The intermediates from the signer up to (not including) the root, sent with every SVID.
    public let chain: [Certificate]
    private let key: Certificate.PrivateKey

    /// How long a root made here lives.
    static let rootLifetime: TimeInterval = 10 * 365 * 24 * 3600

    public init(root: Certificate, key: Certificate.PrivateKey) {
        self.init(bundle: [root], signer: root, chain: [], key: key)
    }

    init(bundle: [Certificate], signer: Certificate, chain: [Certificate], key: Certificate.PrivateKey) {
        self.bundle = bundle
        self.signer = signer
        self.chain = chain
        self.key = key
    }

    /// The CA in `directory`, created there if absent: `root-cert.pem` (the trust bundle) and
    /// `root-key.pem`, or — with an intermediate — `signer-cert.pem` (the intermediate and its chain)
    /// and `signer-key.pem`. A new one is made in a private directory beside it and renamed into place
    /// whole, so two processes starting on a new state directory end up with one CA.
    public static func loadOrCreate(in directory: URL, trustDomain: String) throws -> CertificateAuthority {
        try openOrCreate(in: directory, trustDomain: trustDomain).authority
    }

    /// `loadOrCreate`, saying whether this call made the root (for the audit log's `ca.root_created`).
    public static func openOrCreate(in directory: URL, trustDomain: String) throws -> (authority: CertificateAuthority, created: Bool) {
        var created = false
        if !FileManager.default.fileExists(atPath: directory.path) {
            let staging = directory.deletingLastPathComponent().appendingPathComponent(".ca-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            defer { try? FileManager.default.removeItem(at: staging) }
            let authority = try create(trustDomain: trustDomain)
            try Self.writePrivate(try authority.key.serializeAsPEM().pemString, to: staging.appendingPathComponent("root-key.pem"))
            try Self.writePrivate(try authority.root.serializeAsPEM().pemString, to: staging.appendingPathComponent("root-cert.pem"))
            created = rename(staging.path, directory.path) == 0  // fails if another process won: then load theirs
        }
        return (try load(from: directory), created)
    }

    /// The CA kept in `directory` (see `loadOrCreate`), its bundle extended by the roots a rotation
    /// replaced whose overlap has not ended (`previous/UNTIL.pem`, UNTIL in seconds since 1970).
    public static func load(from directory: URL, now: Date = Date()) throws -> CertificateAuthority {
        let signerFile = directory.appendingPathComponent("signer-cert.pem")
        let current = FileManager.default.fileExists(atPath: signerFile.path)
            ? try load(certificate: signerFile, key: directory.appendingPathComponent("signer-key.pem"), roots: directory.appendingPathComponent("root-cert.pem"))
            : try load(certificate: directory.appendingPathComponent("root-cert.pem"), key: directory.appendingPathComponent("root-key.pem"))
        let previous = directory.appendingPathComponent("previous")
        var bundle = current.bundle
        for name in (try? FileManager.default.contentsOfDirectory(atPath: previous.path)) ?? [] {
            // Whole seconds, as `rotate` names them: `inf` or `1e30` would be trusted forever.
            guard name.hasSuffix(".pem"), let seconds = Int64(name.dropLast(4)) else { continue }
            let until = TimeInterval(seconds)
            let file = previous.appendingPathComponent(name)
            if until > now.timeIntervalSince1970 {
                bundle += (try? readCertificates(file)) ?? []
            } else {
                try? FileManager.default.removeItem(at: file)  // its overlap is over
            }
        }
        return CertificateAuthority(bundle: bundle, signer: current.signer, chain: current.chain, key: current.key)
    }

    /// A new root for the CA in `directory`. The old one stays in the trust bundle for `overlap`, so
    /// SVIDs it signed keep working while workloads pick up new ones; after that it is refused.
    public static func rotate(in directory: URL, overlap: Duration, trustDomain: String, now: Date = Date()) throws -> CertificateAuthority {
        guard !FileManager.default.fileExists(atPath: directory.appendingPathComponent("signer-cert.pem").path) else {
            throw IdentityError("this CA is the operator's own (Mesh spec.identity.ca): rotate it where it is kept")
        }
        let old = try String(contentsOf: directory.appendingPathComponent("root-cert.pem"), encoding: .utf8)
        let previous = directory.appendingPathComponent("previous")
        try FileManager.default.createDirectory(at: previous, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Rounded up: the old root is trusted for at least `overlap`, never a fraction of a second less.
        let until = Int(now.timeIntervalSince1970.rounded(.up)) + Int(overlap.components.seconds)
        try writePrivate(old, to: previous.appendingPathComponent("\(until).pem"))
        let fresh = try create(trustDomain: trustDomain, now: now)
        try writePrivate(try fresh.key.serializeAsPEM().pemString, to: directory.appendingPathComponent("root-key.pem"))
        try writePrivate(try fresh.root.serializeAsPEM().pemString, to: directory.appendingPathComponent("root-cert.pem"))
        return try load(from: directory, now: now)
    }

    /// The operator's own CA: `certificate` (a root, or an intermediate followed by any further
    /// intermediates), its `key`, and for an intermediate the `roots` it chains to.
    public static func load(certificate: URL, key: URL, roots: URL?) throws -> CertificateAuthority {
        let certificates = try readCertificates(certificate)
        guard let signer = certificates.first else { throw IdentityError("\(certificate.path) holds no certificate") }
        let privateKey: Certificate.PrivateKey
        do {
            privateKey = try Certificate.PrivateKey(pemEncoded: String(contentsOf: key, encoding: .utf8))
        } catch {
            throw IdentityError("cannot read the CA key from \(key.path): \(error)")
        }
        guard privateKey.publicKey == signer.publicKey else {
            throw IdentityError("the CA key in \(key.path) does not belong to the certificate in \(certificate.path)")
        }
        guard case .isCertificateAuthority = try? signer.extensions.basicConstraints else {
            throw IdentityError("\(certificate.path) is not a CA certificate (basicConstraints CA:TRUE)")
        }
        guard let roots else {
            guard signer.issuer == signer.subject else {
                throw IdentityError("\(certificate.path) is an intermediate: name the root it chains to (rootCertFile)")
            }
            return CertificateAuthority(bundle: [signer], signer: signer, chain: [], key: privateKey)
        }
        let bundle = try readCertificates(roots)
        guard !bundle.isEmpty else { throw IdentityError("\(roots.path) holds no certificate") }
        let top = certificates.last!
        guard bundle.contains(where: { $0.subject == top.issuer && $0.publicKey.isValidSignature(top.signature, for: top) }) else {
            throw IdentityError("\(certificate.path) does not chain to a root in \(roots.path)")
        }
        return CertificateAuthority(bundle: bundle, signer: signer, chain: certificates, key: privateKey)
    }

    /// Copies this CA into `directory` (for `gatehouse ca` and the next start), replacing what is there.
    public func store(in directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let pem = { (certificates: [Certificate]) in
            try certificates.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n"
        }
        try Self.writePrivate(try pem(bundle), to: directory.appendingPathComponent("root-cert.pem"))
        let signerFiles = ["signer-cert.pem", "signer-key.pem"].map { directory.appendingPathComponent($0) }
        if chain.isEmpty {
            try Self.writePrivate(try key.serializeAsPEM().pemString, to: directory.appendingPathComponent("root-key.pem"))
            for file in signerFiles { try? FileManager.default.removeItem(at: file) }
        } else {
            try Self.writePrivate(try pem(chain), to: signerFiles[0])
            try Self.writePrivate(try key.serializeAsPEM().pemString, to: signerFiles[1])
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("root-key.pem"))
        }
    }

    private static func readCertificates(_ file: URL) throws -> [Certificate] {
        do {
            let text = try String(contentsOf: file, encoding: .utf8)
            return try PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }
        } catch {
            throw IdentityError("cannot read certificates from \(file.path): \(error)")
        }
    }

    /// The trust domain a root was made for (its URI SAN `spiffe://TD`).
    public var trustDomain: String? {
        guard let names = try? root.extensions.subjectAlternativeNames else { return nil }
        for case .uniformResourceIdentifier(let uri) in names where uri.hasPrefix("spiffe://") { return String(uri.dropFirst(9)) }
        return nil
    }

    public static func load(certificate: URL, key: URL) throws -> CertificateAuthority {
        do {
            let root = try Certificate(pemEncoded: String(contentsOf: certificate, encoding: .utf8))
            let privateKey = try Certificate.PrivateKey(pemEncoded: String(contentsOf: key, encoding: .utf8))
            guard privateKey.publicKey == root.publicKey else {
                throw IdentityError("the CA key in \(key.path) does not belong to the certificate in \(certificate.path)")
            }
            return CertificateAuthority(root: root, key: privateKey)
        } catch let error as IdentityError {
            throw error
        } catch {
            throw IdentityError("cannot read the CA from \(certificate.path): \(error)")
        }
    }

    /// A new root, in memory (`loadOrCreate` keeps it).
    public static func create(trustDomain: String, now: Date = Date()) throws -> CertificateAuthority {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName {
            OrganizationName("Gatehouse")
            CommonName("Gatehouse root CA for \(trustDomain)")
        }
        let root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey,
            notValidBefore: now - 3600, notValidAfter: now + rootLifetime, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 1))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: key.publicKey)
                SubjectAlternativeNames([.uniformResourceIdentifier("spiffe://\(trustDomain)")])
            },
            issuerPrivateKey: key)
        return CertificateAuthority(root: root, key: key)
    }

    /// An SVID for `id` over `publicKey`, valid from a minute ago (clock skew) for `lifetime`.
    public func issue(_ id: SPIFFEID, publicKey: Certificate.PublicKey, lifetime: Duration, now: Date = Date()) throws -> Certificate {
        let seconds = TimeInterval(lifetime.components.seconds)
        return try sign(
            publicKey: publicKey, notValidBefore: now - 60, notValidAfter: min(now + seconds, signer.notValidAfter),
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                Critical(SubjectAlternativeNames([.uniformResourceIdentifier(id.description)]))
            })
    }

    /// Any certificate under this root, with `extensions` as given (plus the authority key id):
    /// what `issue` uses, and what tests use to make the certificates an SVID must not be.
    public func sign(
        publicKey: Certificate.PublicKey, notValidBefore: Date, notValidAfter: Date, extensions: Certificate.Extensions,
        subject: DistinguishedName? = nil
    ) throws -> Certificate {
        var extensions = extensions
        if let keyIdentifier = try signer.extensions.subjectKeyIdentifier?.keyIdentifier {
            try extensions.append(Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: keyIdentifier), critical: false))
        }
        // The signer's key decides: P-256 (Gatehouse's own), P-384 or RSA (an operator's).
        let algorithm: Certificate.SignatureAlgorithm =
            if P384.Signing.PublicKey(key.publicKey) != nil { .ecdsaWithSHA384 }
            else if _RSA.Signing.PublicKey(key.publicKey) != nil { .sha256WithRSAEncryption }
            else { .ecdsaWithSHA256 }
        return try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey, notValidBefore: notValidBefore,
            notValidAfter: notValidAfter, issuer: signer.subject,
            subject: try subject ?? DistinguishedName { OrganizationName("Gatehouse") },
            signatureAlgorithm: algorithm, extensions: extensions, issuerPrivateKey: key)
    }

    /// Whether this CA holds its root's key (not an intermediate's): only such a CA certifies the
    /// intermediates of joining nodes.
    public var holdsRoot: Bool { chain.isEmpty && signer.subject == signer.issuer }

    /// An intermediate CA for a node of the mesh, over the key the node made: it may sign SVIDs
    /// (path length 0) and nothing else; it names the trust domain like the root does.
    public func issueIntermediate(publicKey: Certificate.PublicKey, node: String, lifetime: Duration, now: Date = Date()) throws -> Certificate {
        guard holdsRoot else { throw IdentityError("only a CA holding its root key certifies nodes") }
        guard let trustDomain else { throw IdentityError("the root names no trust domain (no spiffe:// SAN): it cannot certify nodes") }
        if case .isCertificateAuthority(let maxPathLength) = try signer.extensions.basicConstraints, maxPathLength == 0 {
            throw IdentityError("the root's path length is 0: it cannot have intermediates")
        }
        let seconds = TimeInterval(lifetime.components.seconds)
        return try sign(
            publicKey: publicKey, notValidBefore: now - 60, notValidAfter: min(now + seconds, signer.notValidAfter),
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
                SubjectAlternativeNames([.uniformResourceIdentifier("spiffe://\(trustDomain)")])
            },
            subject: try Self.nodeSubject(node))
    }

    /// The subject of `node`'s intermediate: what a renewal's intermediate must name.
    public static func nodeSubject(_ node: String) throws -> DistinguishedName {
        try DistinguishedName {
            OrganizationName("Gatehouse")
            CommonName("Gatehouse node \(node)")
        }
    }

    /// The CA of a node that joined: its intermediate (and anything above it short of the root),
    /// the key it made, and the mesh's bundle — written as `load(from:)` reads them, into a new
    /// directory renamed into place whole.
    public static func storeJoined(chainPEM: String, key: Certificate.PrivateKey, bundlePEM: String, in directory: URL) throws -> CertificateAuthority {
        let staging = directory.deletingLastPathComponent().appendingPathComponent(".ca-join-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: staging) }
        try writePrivate(bundlePEM, to: staging.appendingPathComponent("root-cert.pem"))
        try writePrivate(chainPEM, to: staging.appendingPathComponent("signer-cert.pem"))
        try writePrivate(try key.serializeAsPEM().pemString, to: staging.appendingPathComponent("signer-key.pem"))
        // Checked before it takes its place: the chain must end at the bundle and match the key.
        let authority = try load(from: staging)
        guard rename(staging.path, directory.path) == 0 else {
            throw IdentityError("cannot put the joined CA at \(directory.path): \(String(cString: strerror(errno)))")
        }
        return authority
    }

    /// A joined node's renewed CA (or its bundle alone, `chainPEM` and `key` nil): checked whole in
    /// a staging directory first, then each file renamed into place, key before certificate, so a
    /// reader never finds a certificate without its key for long (`MeshIdentity` skips a state
    /// that does not load and takes the next).
    public static func replaceJoined(chainPEM: String?, key: Certificate.PrivateKey?, bundlePEM: String, in directory: URL) throws -> CertificateAuthority {
        let staging = directory.deletingLastPathComponent().appendingPathComponent(".ca-renew-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: staging) }
        let chain = try chainPEM ?? String(contentsOf: directory.appendingPathComponent("signer-cert.pem"), encoding: .utf8)
        let keyPEM = try key.map { try $0.serializeAsPEM().pemString } ?? String(contentsOf: directory.appendingPathComponent("signer-key.pem"), encoding: .utf8)
        try writePrivate(bundlePEM, to: staging.appendingPathComponent("root-cert.pem"))
        try writePrivate(chain, to: staging.appendingPathComponent("signer-cert.pem"))
        try writePrivate(keyPEM, to: staging.appendingPathComponent("signer-key.pem"))
        let authority = try load(from: staging)
        for name in ["signer-key.pem", "signer-cert.pem", "root-cert.pem"] where chainPEM != nil || name == "root-cert.pem" {
            guard rename(staging.appendingPathComponent(name).path, directory.appendingPathComponent(name).path) == 0 else {
                throw IdentityError("cannot put \(name) in \(directory.path): \(String(cString: strerror(errno)))")
            }
        }
        return authority
    }

    /// A new key and its SVID.
    public func issueIdentity(_ id: SPIFFEID, lifetime: Duration, now: Date = Date()) throws -> IssuedIdentity {
        let key = P256.Signing.PrivateKey()
        let certificate = try issue(id, publicKey: Certificate.PublicKey(key.publicKey), lifetime: lifetime, now: now)
        return IssuedIdentity(id: id, certificate: certificate, privateKey: Certificate.PrivateKey(key), bundle: bundle, chain: chain)
    }

    /// Writes `text` readable by its owner only: a new file (never an existing one or a link
    /// someone left there), complete on disk, then renamed over `file`.
    /// With `owner` (uid, gid), the file is given to that user before it takes its name, so a
    /// reader under that uid never meets a version it cannot open.
    public static func writePrivate(_ text: String, to file: URL, owner: (uid: UInt32, gid: UInt32)? = nil) throws {
        let path = file.path
        let temporary = path + ".\(UUID().uuidString.prefix(8)).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw IdentityError("cannot write \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = write(descriptor, bytes, bytes.count) == bytes.count && fchmod(descriptor, 0o600) == 0
            && (owner.map { fchown(descriptor, $0.uid, $0.gid) == 0 } ?? true) && fsync(descriptor) == 0
        close(descriptor)
        guard written, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw IdentityError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// A key, its SVID and the bundle that verifies it.
public struct IssuedIdentity: Sendable {
    public let id: SPIFFEID
    public let certificate: Certificate
    public let privateKey: Certificate.PrivateKey
    public let bundle: [Certificate]
    /// Intermediates between the certificate and the bundle, sent with it.
    public let chain: [Certificate]

    public init(id: SPIFFEID, certificate: Certificate, privateKey: Certificate.PrivateKey, bundle: [Certificate], chain: [Certificate] = []) {
        self.id = id
        self.certificate = certificate
        self.privateKey = privateKey
        self.bundle = bundle
        self.chain = chain
    }

    /// The certificate followed by its intermediates (what `cert.pem` holds and a TLS peer sends).
    public var certificatePEM: String { ([certificate] + chain).compactMap { try? $0.serializeAsPEM().pemString }.joined(separator: "\n") }
    public var privateKeyPEM: String { (try? privateKey.serializeAsPEM().pemString) ?? "" }
    public var bundlePEM: String { bundle.compactMap { try? $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n" }

    /// `cert.pem` (the SVID), `key.pem` (0600) and `bundle.pem` in `directory`, each replaced whole.
    public func write(to directory: URL, owner: (uid: UInt32, gid: UInt32)? = nil) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // All three belong to the reader (the folder is its own, so nothing is hidden by this).
        try CertificateAuthority.writePrivate(certificatePEM + "\n", to: directory.appendingPathComponent("cert.pem"), owner: owner)
        try CertificateAuthority.writePrivate(privateKeyPEM + "\n", to: directory.appendingPathComponent("key.pem"), owner: owner)
        try CertificateAuthority.writePrivate(bundlePEM, to: directory.appendingPathComponent("bundle.pem"), owner: owner)
    }

}

public struct IdentityError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
