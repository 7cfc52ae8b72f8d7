import Foundation
import GatehouseCore
import GatehouseFunctions
import GatehouseIdentity
import Logging
import NIOConcurrencyHelpers
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// Every function instance's own X.509-SVID, `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`,
/// in a private directory of its own (`STATE_DIR/identities/NS.NAME.ID`, 0700; keys 0600), named
/// in its environment, renewed at half its lifetime, removed when the instance exits.
///
/// A function calls another through the mesh listener (`GATEHOUSE_MESH_URL`) presenting its SVID,
/// so the callee sees it as the verified caller; no function can act as another there without that
/// one's key. When functions run under users of their own (Gatehouse as root), the folder and its
/// keys belong to the instance's user, and `identities/` and the state directory are 0711: a
/// function can reach its own folder by name but list, or read, nothing else (docs/security.md).
final class FunctionIdentities: InstanceIdentities, Sendable {
    struct Setup: Sendable {
        let authority: CertificateAuthority
        let trustDomain: String
        let lifetime: Duration
        let meshURL: String
    }

    private let directory: URL
    private let setup = NIOLockedValueBox<Setup?>(nil)
    /// The TLS client contexts remote functions call out with (`ISTIO_MUTUAL`), by SPIFFE ID, each
    /// until half its SVID's lifetime has passed.
    /// How many running instances use each folder. Instance numbers are per pool, so two pools of
    /// one function (a revision being replaced, a warm-up abandoned while another starts) can name
    /// the same folder: it is removed when the last of them exits, not under the other's feet.
    private let folderUsers = NIOLockedValueBox<[String: Int]>([:])
    private let clientContexts = NIOLockedValueBox<[SPIFFEID: (context: NIOSSLContext, renewAt: ContinuousClock.Instant)]>([:])
    private let logger: Logger

    init(stateDirectory: URL, logger: Logger) {
        directory = stateDirectory.appendingPathComponent("identities")
        self.logger = logger
        // What a previous run left behind belongs to no running instance.
        try? FileManager.default.removeItem(at: directory)
    }

    /// Called once the CA and the mesh listener exist, before any instance starts (instances are
    /// only launched once the services run).
    func configure(_ value: Setup) {
        setup.withLockedValue { $0 = value }
    }

    /// After a rotation: instances are issued under the new CA from their next renewal.
    func use(_ authority: CertificateAuthority) {
        setup.withLockedValue { setup in
            guard let current = setup else { return }
            setup = Setup(authority: authority, trustDomain: current.trustDomain, lifetime: current.lifetime, meshURL: current.meshURL)
        }
        clientContexts.withLockedValue { $0.removeAll() }
    }

    /// The trust domain remote peers' SVIDs must belong to; nil until configured.
    var trustDomain: String? { setup.withLockedValue { $0?.trustDomain } }

    /// A TLS client context presenting `spec`'s own SVID and trusting only the mesh's bundle, for a
    /// remote function called with `ISTIO_MUTUAL`. Issued on first use, and again once half its
    /// lifetime has passed (asked per new connection, so open connections keep theirs).
    func meshClientContext(for spec: FunctionSpec) throws -> NIOSSLContext {
        guard let setup = setup.withLockedValue({ $0 }) else { throw IdentityError("the mesh identity is not set up yet") }
        let id = id(spec, setup)
        let now = ContinuousClock.now
        if let cached = clientContexts.withLockedValue({ $0[id] }), cached.renewAt > now { return cached.context }
        let context = try setup.authority.issueIdentity(id, lifetime: setup.lifetime).meshClientContext()
        clientContexts.withLockedValue { $0[id] = (context, now + setup.lifetime / 2) }
        return context
    }

    func provision(_ spec: FunctionSpec, instance: Int, owner: FunctionUser?) throws -> [String: String] {
        let place = folder(spec, instance)
        // Counted first: `release` follows every `provision`, whether it succeeded or not.
        folderUsers.withLockedValue { $0[place.path, default: 0] += 1 }
        guard let setup = setup.withLockedValue({ $0 }) else { return [:] }
        if let owner {
            // Traverse-only above the instance's folder, so its user can reach it and nothing else.
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
            chmod(directory.deletingLastPathComponent().path, 0o711)
            chmod(directory.path, 0o711)
            try FileManager.default.createDirectory(at: place, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            guard chown(place.path, owner.uid, owner.gid) == 0 else {
                throw IdentityError("cannot give \(place.path) to \(owner): \(String(cString: strerror(errno)))")
            }
        }
        try write(spec, to: place, setup: setup)
        return [
            "GATEHOUSE_SPIFFE_ID": id(spec, setup).description,
            "GATEHOUSE_SVID_CERT": place.appendingPathComponent("cert.pem").path,
            "GATEHOUSE_SVID_KEY": place.appendingPathComponent("key.pem").path,
            "GATEHOUSE_SVID": place.appendingPathComponent("svid.pem").path,
            "GATEHOUSE_TRUST_BUNDLE": place.appendingPathComponent("bundle.pem").path,
            "GATEHOUSE_MESH_URL": setup.meshURL,
        ]
    }

    func maintain(_ spec: FunctionSpec, instance: Int) async {
        guard let lifetime = setup.withLockedValue({ $0?.lifetime }) else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: lifetime / 2)
            guard !Task.isCancelled, let setup = setup.withLockedValue({ $0 }) else { return }
            do {
                try write(spec, to: folder(spec, instance), setup: setup)
            } catch {
                logger.error("cannot renew a function instance's SVID", metadata: ["function": "\(spec.key)", "error": "\(error)"])
            }
        }
    }

    func release(_ spec: FunctionSpec, instance: Int) {
        let place = folder(spec, instance)
        let last = folderUsers.withLockedValue { users -> Bool in
            let left = (users[place.path] ?? 1) - 1
            users[place.path] = left > 0 ? left : nil
            return left <= 0
        }
        if last { try? FileManager.default.removeItem(at: place) }
    }

    private func id(_ spec: FunctionSpec, _ setup: Setup) -> SPIFFEID {
        SPIFFEID(trustDomain: setup.trustDomain, namespace: spec.namespace, serviceAccount: spec.serviceAccount)
    }

    private func folder(_ spec: FunctionSpec, _ instance: Int) -> URL {
        directory.appendingPathComponent("\(spec.namespace).\(spec.name).\(instance)")
    }

    /// Each file is replaced whole (written aside, renamed). `svid.pem` holds the certificate and its
    /// key together: the one file a renewal can never leave half old, half new.
    /// Keys go to whoever owns the folder (the instance's user, or Gatehouse's).
    private func write(_ spec: FunctionSpec, to place: URL, setup: Setup) throws {
        try FileManager.default.createDirectory(at: place, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var folder = stat()
        guard stat(place.path, &folder) == 0 else { throw IdentityError("cannot read \(place.path): \(String(cString: strerror(errno)))") }
        let owner = folder.st_uid == geteuid() ? nil : (uid: folder.st_uid, gid: folder.st_gid)
        let identity = try setup.authority.issueIdentity(id(spec, setup), lifetime: setup.lifetime)
        try identity.write(to: place, owner: owner)
        try CertificateAuthority.writePrivate(
            identity.certificatePEM + "\n" + identity.privateKeyPEM + "\n", to: place.appendingPathComponent("svid.pem"), owner: owner)
    }
}
