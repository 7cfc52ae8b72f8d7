import Crypto
import Foundation
import GatehouseCore
import GatehouseIdentity
import GatehouseListener
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import ServiceLifecycle
import SwiftASN1
import Synchronization
import X509

/// The mesh listener's identity: Gatehouse's CA (in `STATE_DIR/ca`), the gateway's own SVID
/// (`spiffe://TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse`) and the TLS settings built from them.
/// As a service it renews the SVID at half its lifetime; new connections get the new certificate,
/// open ones keep theirs, so renewal drops nothing. It watches the CA directory (inotify, see
/// `DirectoryWatch`) and reloads the CA when a file there changes (`gatehouse ca rotate`), and
/// again when a replaced root's overlap ends (a timer at that moment). It polls only where
/// inotify is unavailable (every `fallbackInterval`).
final class MeshIdentity: Service, Sendable {
    /// The CA and what is built from it; replaced whole when the CA in the state directory changes
    /// (`gatehouse ca rotate`) or a replaced root's overlap ends.
    struct Current: Sendable {
        let authority: CertificateAuthority
        let verifier: SVIDVerifier
    }

    let trustDomain: String
    /// The trust domain and its aliases: only their SVIDs get a principal (see `PeerIdentity`).
    let meshTrustDomains: Set<String>
    let gatewayID: SPIFFEID
    let lifetime: Duration
    let tls: ListenerTLS
    private let directory: URL
    private let current: NIOLockedValueBox<Current>
    /// The gateway's SVID now; the admin listener presents it (renewed in place).
    private let presented: NIOLockedValueBox<IssuedIdentity>
    /// The SVID `presented` replaced: still in use on connections made before the renewal.
    private let previousGateway = NIOLockedValueBox<Certificate?>(nil)
    /// The client side of `presented`, for calls to other nodes; rebuilt once it is renewed.
    /// By whether it offers h2.
    private let nodeClient = NIOLockedValueBox<[Bool: (certificate: Certificate, context: NIOSSLContext)]>([:])
    private let verified = VerifiedChains()
    /// Told the new CA, so function instances are issued under it from their next renewal.
    private let onChange: @Sendable (CertificateAuthority) -> Void
    private let logger: Logger
    /// How often the CA directory is looked at for a rotation where it cannot be watched.
    static let fallbackInterval: Duration = .seconds(2)
    /// Runs the directory watch and the timers.
    private let eventLoop: any EventLoop

    var authority: CertificateAuthority { current.withLockedValue { $0.authority } }
    /// SHA-256 (hex) of each root of the current CA's bundle: what the node registry says this
    /// node trusts (nodes that share a root pass requests to each other).
    var rootFingerprints: [String] {
        authority.bundle.compactMap(Self.fingerprint)
    }

    /// SHA-256 of a certificate's DER, in hex: how the registry and `PeerIdentity` name one.
    static func fingerprint(_ certificate: Certificate) -> String? {
        var serializer = DER.Serializer()
        guard (try? serializer.serialize(certificate)) != nil else { return nil }
        return fingerprint(der: serializer.serializedBytes)
    }

    static func fingerprint(der: [UInt8]) -> String {
        SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined()
    }

    /// SHA-256 (hex, as `PeerIdentity.certificateHash`) of the gateway SVID this node presents
    /// now and of the one before: the node registry lists them, and a node takes another's hop only
    /// over a connection made with one of them.
    var gatewayCertificateHashes: [String] {
        let current = presented.withLockedValue { $0.certificate }
        return ([current] + [previousGateway.withLockedValue { $0 }].compactMap { $0 }).compactMap(Self.fingerprint)
    }

    /// The gateway's principal as the mesh listener names a peer: `TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse`.
    var gatewayPrincipal: String { gatewayID.principal }
    /// This start made the CA's root (a new state directory): said once in the audit log.
    let createdRoot: Bool

    init(
        stateDirectory: URL, mesh: MeshSpec, eventLoop: any EventLoop, logger: Logger,
        onChange: @escaping @Sendable (CertificateAuthority) -> Void = { _ in }
    ) throws {
        directory = stateDirectory.appendingPathComponent("ca")
        self.eventLoop = eventLoop
        let authority: CertificateAuthority
        var createdRoot = false
        if let files = mesh.certificateAuthority {
            // The operator's CA; kept in the state directory too, for `gatehouse ca` and the next start.
            authority = try CertificateAuthority.load(
                certificate: URL(fileURLWithPath: files.certFile), key: URL(fileURLWithPath: files.keyFile),
                roots: files.rootCertFile.map { URL(fileURLWithPath: $0) })
            try authority.store(in: directory)
        } else {
            (authority, createdRoot) = try CertificateAuthority.openOrCreate(in: directory, trustDomain: mesh.trustDomain)
        }
        if let domain = authority.trustDomain, domain != mesh.trustDomain {
            throw IdentityError(
                "the CA in \(stateDirectory.path)/ca was made for trust domain \(domain), but the Mesh says \(mesh.trustDomain); "
                    + "use trustDomain: \(domain), or a new state directory")
        }
        self.createdRoot = createdRoot
        trustDomain = mesh.trustDomain
        meshTrustDomains = mesh.meshTrustDomains
        gatewayID = SPIFFEID(trustDomain: mesh.trustDomain, namespace: mesh.rootNamespace, serviceAccount: ReservedServiceAccounts.gateway)
        lifetime = mesh.svidLifetime
        self.logger = logger
        self.onChange = onChange
        let current = NIOLockedValueBox(Current(authority: authority, verifier: SVIDVerifier(trustDomain: mesh.trustDomain, bundle: authority.bundle)))
        self.current = current
        let identity = try authority.issueIdentity(gatewayID, lifetime: lifetime)
        presented = NIOLockedValueBox(identity)
        let context = try Self.context(for: identity)
        let verified = verified
        let domains = meshTrustDomains
        tls = ListenerTLS(context: context, known: { leaf in
            (try? leaf.toDERBytes()).flatMap(verified.lookup)
        }) { [logger] chain in
            await Self.check(chain, verifier: current.withLockedValue { $0.verifier }, verified: verified, meshTrustDomains: domains, logger: logger)
        }
    }

    /// TLS 1.3 preferred, 1.2 allowed; a client certificate is required and checked by `check`.
    static func context(for identity: IssuedIdentity) throws -> NIOSSLContext {
        // The SNI is recorded for `connection.sni`; HTTP/2 is offered by ALPN.
        try NIOSSLContext(configuration: ListenerTLS.recordingServerName(ListenerTLS.negotiatingHTTP2(context(configurationFor: identity))))
    }

    private static func context(configurationFor identity: IssuedIdentity) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try identity.bundle.map {
            try NIOSSLCertificate(bytes: Array($0.serializeAsPEM().pemString.utf8), format: .pem)
        })
        return configuration
    }

    /// A client context presenting the gateway's current SVID, for requests to another node's mesh
    /// listener (`NodePlacement`). The server's chain is verified against the mesh's bundle; its
    /// SPIFFE ID by the caller (it must be the gateway's too).
    /// The gateway's client context towards another node; `h2`: offering HTTP/2 by ALPN (gRPC hops).
    func nodeClientContext(h2: Bool = false) throws -> NIOSSLContext {
        let identity = presented.withLockedValue { $0 }
        if let cached = nodeClient.withLockedValue({ $0[h2] }), cached.certificate == identity.certificate { return cached.context }
        let context = try identity.meshClientContext(alpn: h2 ? ["h2"] : [])
        nodeClient.withLockedValue { $0[h2] = (identity.certificate, context) }
        return context
    }

    /// A client's chain checked as the mesh listener checks it (current CA, remembered leaves).
    func checkClient(_ chain: [NIOSSLCertificate]) async -> PeerIdentity? {
        await Self.check(chain, verifier: current.withLockedValue { $0.verifier }, verified: verified, meshTrustDomains: meshTrustDomains, logger: logger)
    }

    /// The identity of a leaf `checkClient` accepted and that is still valid (nil after a CA change).
    func remembered(_ leaf: NIOSSLCertificate) -> PeerIdentity? {
        (try? leaf.toDERBytes()).flatMap(verified.lookup)
    }

    /// A server configuration presenting the gateway's SVID — the current one at every handshake,
    /// so renewal needs no restart — and asking for a client certificate (checked by the caller's
    /// verification callback).
    func mutualServerConfiguration() throws -> TLSConfiguration {
        let identity = presented.withLockedValue { $0 }
        var configuration = try Self.context(configurationFor: identity)
        let presented = presented
        configuration.sslContextCallback = { _, promise in
            let identity = presented.withLockedValue { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = (try? NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)))?.map { .certificate($0) }
            override.privateKey = (try? NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)).map { .privateKey($0) }
            promise.succeed(override)
        }
        return configuration
    }

    /// A client's chain, checked as an SVID of this trust domain; refusals are logged (never the certificate).
    /// A leaf verified before is answered from `verified` until the chain's earliest expiry: a
    /// workload reconnecting with the same SVID costs a lookup, not a path validation.
    /// An SVID outside `meshTrustDomains` is verified but external: it gets no principal.
    static func check(
        _ chain: [NIOSSLCertificate], verifier: SVIDVerifier, verified: VerifiedChains, meshTrustDomains: Set<String>, logger: Logger
    ) async -> PeerIdentity? {
        do {
            let der = try chain.map { try $0.toDERBytes() }
            if let known = verified.lookup(der[0]) { return known }
            let certificates = try der.map { try Certificate(derEncoded: $0) }
            switch await verifier.verify(certificates) {
            case .success(let id):
                let hash = fingerprint(der: der[0])
                let principal = meshTrustDomains.contains(id.trustDomain) ? id.principal : nil
                let identity = PeerIdentity(principal: principal, uri: id.description, certificateHash: hash)
                verified.insert(der[0], identity, until: certificates.map(\.notValidAfter).min() ?? Date())
                return identity
            case .failure(let error):
                logger.info("mesh handshake refused", metadata: ["reason": "\(error)"])
                return nil
            }
        } catch {
            logger.info("mesh handshake refused", metadata: ["reason": "unreadable certificate: \(error)"])
            return nil
        }
    }

    /// Leaves whose chain passed `check`, by the leaf's DER bytes (certificates sent beside it make
    /// no new entry); at most `capacity`, each until its chain's earliest `notValidAfter`. Emptied
    /// whenever the trust bundle changes (a rotation, an overlap that ended: `reloadIfChanged`).
    final class VerifiedChains: Sendable {
        static let capacity = 10_000
        private let entries = Mutex<[[UInt8]: (identity: PeerIdentity, until: Date)]>([:])

        func lookup(_ der: [UInt8]) -> PeerIdentity? {
            entries.withLock { entries in
                guard let entry = entries[der], entry.until > Date() else { return nil }
                return entry.identity
            }
        }

        func removeAll() {
            entries.withLock { $0.removeAll() }
        }

        func insert(_ der: [UInt8], _ identity: PeerIdentity, until: Date) {
            entries.withLock { entries in
                if entries.count >= Self.capacity {
                    let now = Date()
                    entries = entries.filter { $0.value.until > now }
                    if entries.count >= Self.capacity { entries.removeAll() }
                }
                entries[der] = (identity, until)
            }
        }
    }

    /// Wakes on a change in the CA directory, at the renewal time and when a replaced root's
    /// overlap ends — one stream of wake-ups, fed by the watch and by one scheduled timer.
    func run() async throws {
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let watch = await DirectoryWatch.start(directory.path, on: eventLoop, logger: logger) { wake.yield() }
        if watch == nil { logger.warning("the CA directory is looked at every \(Self.fallbackInterval) instead") }
        await cancelWhenGracefulShutdown { await self.follow(wakeups, wake: wake, watched: watch != nil) }
        await watch?.stop()
    }

    private func follow(_ wakeups: AsyncStream<Void>, wake: AsyncStream<Void>.Continuation, watched: Bool) async {
        var nextRenewal = ContinuousClock.now + lifetime / 2
        var timer: Scheduled<Void>?
        defer { timer?.cancel() }
        func schedule() {
            timer?.cancel()
            var next = nextRenewal
            if let end = nextOverlapEnd() { next = min(next, end) }
            if !watched { next = min(next, .now + Self.fallbackInterval) }
            let (seconds, attoseconds) = max(.zero, next - .now).components
            timer = eventLoop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) { wake.yield() }
        }
        schedule()
        for await _ in wakeups {
            wakeUp(&nextRenewal)
            schedule()
        }
    }

    /// When the earliest replaced root still trusted stops being trusted (its file's name says).
    private func nextOverlapEnd() -> ContinuousClock.Instant? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("previous").path)) ?? []
        let now = Date().timeIntervalSince1970
        // Whole seconds since the epoch, as `ca rotate` names them; anything else (`inf`, `1e30`, a
        // hostile name) is not a time and is skipped, and a far one waits a day at most.
        guard let until = names.compactMap({ $0.hasSuffix(".pem") ? Int64($0.dropLast(4)).map(TimeInterval.init) : nil }).filter({ $0 > now }).min() else {
            return nil
        }
        // A little after, so the reload finds it over.
        return .now + .seconds(min(until - now, 86_400)) + .milliseconds(50)
    }

    /// Reloads the CA if it changed; renews the SVID when it did, or when it is due.
    private func wakeUp(_ nextRenewal: inout ContinuousClock.Instant) {
        let rotated = reloadIfChanged()
        guard rotated || ContinuousClock.now >= nextRenewal else { return }
        nextRenewal = ContinuousClock.now + lifetime / 2
        do {
            let identity = try authority.issueIdentity(gatewayID, lifetime: lifetime)
            tls.replace(try Self.context(for: identity))
            let replaced = presented.withLockedValue { presented in
                defer { presented = identity }
                return presented
            }
            previousGateway.withLockedValue { $0 = replaced.certificate }
            logger.info("mesh listener certificate renewed", metadata: ["notAfter": "\(identity.certificate.notValidAfter)"])
        } catch {
            logger.error("cannot renew the mesh listener certificate; keeping the current one", metadata: ["error": "\(error)"])
        }
    }

    /// Reads the CA directory again; when the signer or the bundle differ (a rotation, an overlap
    /// that ended), everything built from the CA is rebuilt and remembered verifications dropped.
    private func reloadIfChanged() -> Bool {
        guard let fresh = try? CertificateAuthority.load(from: directory) else { return false }
        let changed = current.withLockedValue { current -> Bool in
            guard fresh.signer != current.authority.signer || fresh.bundle != current.authority.bundle else { return false }
            current = Current(authority: fresh, verifier: SVIDVerifier(trustDomain: trustDomain, bundle: fresh.bundle))
            return true
        }
        guard changed else { return false }
        verified.removeAll()
        onChange(fresh)
        logger.notice("certificate authority changed", metadata: ["roots": "\(fresh.bundle.count)"])
        return true
    }
}

extension IssuedIdentity {
    /// A client context presenting this SVID to a mesh listener: the server's chain is verified
    /// against the SVID's bundle; its SPIFFE ID (SVIDs name no host) by the caller's peer check.
    /// `alpn`: the protocols offered (`h2` for a node's HTTP/2 hop; none: HTTP/1.1).
    func meshClientContext(alpn: [String] = []) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = alpn
        configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem))
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(bundlePEM.utf8)))
        return try NIOSSLContext(configuration: configuration)
    }
}
