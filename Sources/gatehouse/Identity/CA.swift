import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseIdentity
import GatehouseStore
import GatehouseTelemetry
import X509

/// `gatehouse ca …`: the mesh's certificate authority, kept in the state directory.
struct CA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "The mesh's certificate authority: print its trust bundle, issue SVIDs for workloads outside Gatehouse.",
        subcommands: [Bundle.self, Issue.self, Rotate.self])

    /// The CA `up` uses (`STATE_DIR/ca`), made now if this state directory has none yet.
    /// A root made here is written to the audit log before it is used.
    static func authority(_ state: StateDirectoryOption, trustDomain: String) async throws -> CertificateAuthority {
        let opened: (authority: CertificateAuthority, created: Bool)
        do {
            opened = try CertificateAuthority.openOrCreate(in: state.url.appendingPathComponent("ca"), trustDomain: trustDomain)
        } catch {
            throw CommandFailure("\(error)")
        }
        if opened.created { try await LocalAudit.rootCreated(opened.authority, state: state.url) }
        return opened.authority
    }

    struct Bundle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the trust bundle (PEM): the roots that verify every SVID of this mesh.")

        @OptionGroup var state: StateDirectoryOption

        @Option(help: "Trust domain of a CA made now (when the state directory has none yet).")
        var trustDomain = "cluster.local"

        func run() async throws {
            for root in try await CA.authority(state, trustDomain: trustDomain).bundle { print(try root.serializeAsPEM().pemString) }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the root; the old one stays trusted for --overlap, then SVIDs it signed are refused.",
            discussion: """
                A running Gatehouse picks the new root up within seconds: its own and its functions' SVIDs are
                issued under it from their next renewal, and both roots verify callers until the overlap ends.
                Make the overlap longer than the SVID lifetime (Mesh spec.identity.svidTTL), so every
                workload is renewed under the new root before the old one goes.
                """)

        @OptionGroup var state: StateDirectoryOption

        @Option(help: "How long the old root stays trusted, e.g. 48h.")
        var overlap = "48h"

        func validate() throws {
            guard let duration = Duration(parsing: overlap), duration >= .zero else {
                throw ValidationError("--overlap \(overlap): write a duration, e.g. 48h")
            }
        }

        func run() async throws {
            let directory = state.url.appendingPathComponent("ca")
            do {
                let current = try CertificateAuthority.load(from: directory)
                let rotated = try CertificateAuthority.rotate(
                    in: directory, overlap: Duration(parsing: overlap)!, trustDomain: current.trustDomain ?? "cluster.local")
                // The record vouches for the replaced root, so checkpoints it signed still verify once it is gone.
                var event = AuditEvent(kind: .caRotated, at: Date())
                event.action = "rotate"
                event.rootFingerprint = try AuditSigner.fingerprint(rotated.root)
                event.previousRootFingerprint = try AuditSigner.fingerprint(current.root)
                event.notAfter = rotated.root.notValidAfter
                event.detail = "the old root stays trusted for \(overlap)"
                try await LocalAudit.record(event, state: state.url, authority: rotated)
                print("new root until \(rotated.root.notValidAfter.formatted(.iso8601)); the old one is trusted for \(overlap) more")
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue an X.509-SVID for a workload outside Gatehouse.",
            discussion: """
                Writes cert.pem (the SVID), key.pem (its private key, mode 0600) and bundle.pem (the trust bundle)
                into the directory given with --out:
                  gatehouse ca issue --spiffe-id spiffe://cluster.local/ns/default/sa/billing --out ./billing
                """)

        @OptionGroup var state: StateDirectoryOption

        @Option(help: "The workload's SPIFFE ID, spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT.")
        var spiffeId: String

        @Option(help: "Directory to write cert.pem, key.pem and bundle.pem into.")
        var out: String

        @Option(help: "Lifetime, e.g. 24h (Istio's default) or 1h.")
        var ttl = "24h"

        func validate() throws {
            guard SPIFFEID(spiffeId) != nil else {
                throw ValidationError("--spiffe-id \(spiffeId) is not a SPIFFE ID; write e.g. spiffe://cluster.local/ns/default/sa/billing")
            }
            // Gatehouse's own identities are never handed out: one could sign audit checkpoints.
            let segments = SPIFFEID(spiffeId)!.path.split(separator: "/").map(String.init)
            if let index = segments.firstIndex(of: "sa"), index + 1 < segments.count, ReservedServiceAccounts.contains(segments[index + 1]) {
                throw ValidationError(
                    "--spiffe-id \(spiffeId): service account \(segments[index + 1]) is reserved for Gatehouse itself; issue the workload another service account")
            }
            guard let lifetime = Duration(parsing: ttl), lifetime > .zero, lifetime <= .seconds(90 * 24 * 3600) else {
                throw ValidationError("--ttl \(ttl): write a duration between 1s and 2160h, e.g. 24h")
            }
        }

        func run() async throws {
            let id = SPIFFEID(spiffeId)!
            let authority = try await CA.authority(state, trustDomain: id.trustDomain)
            if let domain = authority.trustDomain, domain != id.trustDomain {
                throw CommandFailure("this CA is for trust domain \(domain), not \(id.trustDomain); use spiffe://\(domain)/…")
            }
            let identity = try authority.issueIdentity(id, lifetime: Duration(parsing: ttl)!)
            // Recorded before the key is handed out: an SVID nobody audited is never written.
            var event = AuditEvent(kind: .caSVIDIssued, at: Date())
            event.action = "issue"
            event.spiffeId = id.description
            event.serial = identity.certificate.serialNumber.description
            event.notAfter = identity.certificate.notValidAfter
            try await LocalAudit.record(event, state: state.url, authority: authority)
            let directory = URL(fileURLWithPath: out)
            try identity.write(to: directory)
            print("issued \(id) until \(identity.certificate.notValidAfter.formatted(.iso8601)) into \(directory.path)")
        }
    }
}
