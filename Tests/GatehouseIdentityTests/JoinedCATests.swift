import Crypto
import Foundation
import Testing
import X509

@testable import GatehouseIdentity

/// A joined node's CA files: replaced so that a crash at any point loses nothing.
@Suite("A joined node's CA on disk")
struct JoinedCATests {
    /// A root, and `directory/ca` holding a node's intermediate under it.
    static func joined(in directory: URL) throws -> (root: CertificateAuthority, ca: URL) {
        let root = try CertificateAuthority.create(trustDomain: "cluster.local")
        let key = P256.Signing.PrivateKey()
        let intermediate = try root.issueIntermediate(publicKey: Certificate.PublicKey(key.publicKey), node: "node-b", lifetime: .seconds(3600))
        let ca = directory.appendingPathComponent("ca")
        _ = try CertificateAuthority.storeJoined(
            chainPEM: try intermediate.serializeAsPEM().pemString, key: Certificate.PrivateKey(key),
            bundlePEM: try root.root.serializeAsPEM().pemString, in: ca)
        return (root, ca)
    }

    static func renewal(from root: CertificateAuthority) throws -> (chain: String, key: Certificate.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let intermediate = try root.issueIntermediate(publicKey: Certificate.PublicKey(key.publicKey), node: "node-b", lifetime: .seconds(7200))
        return (try intermediate.serializeAsPEM().pemString, Certificate.PrivateKey(key))
    }

    @Test("A renewal replaces key, certificate and bundle together; what loads after is the new intermediate")
    func replaced() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("joined-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (root, ca) = try Self.joined(in: directory)
        let (chain, key) = try Self.renewal(from: root)
        let replaced = try CertificateAuthority.replaceJoined(chainPEM: chain, key: key, bundlePEM: try root.root.serializeAsPEM().pemString, in: ca)
        let loaded = try CertificateAuthority.load(from: ca)
        #expect(loaded.signer == replaced.signer && loaded.signer.publicKey == key.publicKey)
        #expect(!FileManager.default.fileExists(atPath: CertificateAuthority.journal(for: ca).path), "the journal is gone")
    }

    @Test("Killed between two renames: the next start finishes the replacement from the journal; a journal not marked ready is dropped")
    func interrupted() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("joined-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (root, ca) = try Self.joined(in: directory)
        let before = try CertificateAuthority.load(from: ca)
        let (chain, key) = try Self.renewal(from: root)
        // What replaceJoined leaves if killed right after moving the key: a key without its certificate.
        let journal = CertificateAuthority.journal(for: ca)
        try FileManager.default.createDirectory(at: journal, withIntermediateDirectories: true)
        try CertificateAuthority.writePrivate(try root.root.serializeAsPEM().pemString, to: journal.appendingPathComponent("root-cert.pem"))
        try CertificateAuthority.writePrivate(chain, to: journal.appendingPathComponent("signer-cert.pem"))
        try CertificateAuthority.writePrivate(try key.serializeAsPEM().pemString, to: journal.appendingPathComponent("signer-key.pem"))
        try CertificateAuthority.writePrivate("", to: journal.appendingPathComponent("ready"))
        for name in ["root-cert.pem", "signer-key.pem"] {
            #expect(rename(journal.appendingPathComponent(name).path, ca.appendingPathComponent(name).path) == 0)
        }
        #expect(throws: (any Error).self, "a key without its certificate does not load") { try CertificateAuthority.load(from: ca) }
        try CertificateAuthority.finishReplacement(in: ca)
        let after = try CertificateAuthority.load(from: ca)
        #expect(after.signer.publicKey == key.publicKey && after.signer != before.signer)

        // Killed while writing the journal: nothing was replaced, and the journal goes.
        try FileManager.default.createDirectory(at: journal, withIntermediateDirectories: true)
        try CertificateAuthority.writePrivate("partial", to: journal.appendingPathComponent("signer-cert.pem"))
        try CertificateAuthority.finishReplacement(in: ca)
        #expect(try CertificateAuthority.load(from: ca).signer == after.signer)
        #expect(!FileManager.default.fileExists(atPath: journal.path))
    }
}
