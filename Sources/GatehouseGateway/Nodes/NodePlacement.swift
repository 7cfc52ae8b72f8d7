import Foundation
import GatehouseCore
import GatehouseFunctions
import GatehouseIdentity
import GatehouseStore
import NIOCore
import NIOSSL
import Synchronization
import X509

/// Which node of the mesh runs each revision: its **home**, the `Ready` node that ranks highest
/// for it by rendezvous hashing (`Rendezvous`) of the node's name and the revision. Every node computes the same
/// home from the same registry, so a revision's instances run on one node and its `maxInstances`
/// holds for the mesh; a request that arrives elsewhere is passed to the home over the mesh
/// listener (`NodeHop`, mutual TLS with the gateways' SVIDs). When nodes come or go, only the
/// revisions whose home changes move.
///
/// A node takes part once it has announced a mesh address another node can dial (not a wildcard
/// bind) and only with the nodes whose CA shares a root with its own (nodes that joined with a
/// join token; a node that made a CA of its own serves alone). The registry is read after every heartbeat, so a node that
/// stopped is passed over after its `goneAfter`; until then a refused connection makes the sender
/// run the request itself (`PlacedUpstream`).
final class NodePlacement: Sendable {
    struct Peer: Hashable, Sendable {
        let name: String
        let host: String
        let port: Int
    }

    private struct State {
        var peers: [Peer] = []
        /// This node is `Ready` with an address the others can dial.
        var takesPart = true
        /// The gateway SVIDs (SHA-256) of the nodes taking part: the connections a hop is taken from.
        var certificates: Set<String> = []
        /// Stand-ins for a peer's instances, per revision; dropped when the peer leaves or moves.
        var instances: [Key: FunctionInstance] = [:]
    }

    private struct Key: Hashable {
        let peer: Peer
        let revision: RevisionKey
    }

    /// At most this many peer stand-ins (a peer and a revision each) are kept.
    static let maxStandIns = 1024
    let node: String
    let reachability = PeerReachability()
    private let state = Mutex(State())
    private let eventLoops: [any EventLoop]
    private let tls: UpstreamTLS
    private let identity: MeshIdentity

    /// Told when the nodes taking part change (the runtime moves its `minInstances` to the homes).
    private let onChange: @Sendable (NodePlacement) -> Void

    init(node: String, identity: MeshIdentity, eventLoops: [any EventLoop], onChange: @escaping @Sendable (NodePlacement) -> Void = { _ in }) {
        self.node = node
        self.identity = identity
        self.onChange = onChange
        self.eventLoops = eventLoops
        let gateway = identity.gatewayID
        tls = UpstreamTLS(serverHostname: nil, context: { try identity.nodeClientContext() }) { leaf in
            Self.checkGateway(leaf, gateway: gateway)
        }
    }

    /// The `Ready` nodes of the registry with an address to dial and a root this node trusts, this one excluded.
    func update(_ records: [NodeRecord]) {
        let roots = Set(identity.rootFingerprints)
        let peers = records.compactMap { record -> Peer? in
            guard record.name != node, record.state == .ready, let mesh = record.addresses.mesh,
                  let (host, port) = Self.dialable(mesh), !roots.isDisjoint(with: record.addresses.meshRoots ?? []) else { return nil }
            return Peer(name: record.name, host: host, port: port)
        }.sorted { $0.name < $1.name }
        let own = records.first { $0.name == node }
        let takesPart = own?.state == .ready && own?.addresses.mesh.flatMap(Self.dialable) != nil
        let names = Set(peers.map(\.name))
        let certificates = Set(records.filter { names.contains($0.name) }.flatMap { $0.addresses.gatewayCertificates ?? [] })
        let (changed, dropped) = state.withLock { state -> (Bool, [FunctionInstance]) in
            state.certificates = certificates
            guard state.peers != peers || state.takesPart != takesPart else { return (false, []) }
            state.takesPart = takesPart
            state.peers = peers
            let kept = Set(peers)
            let gone = state.instances.filter { !kept.contains($0.key.peer) }
            for key in gone.keys { state.instances[key] = nil }
            return (true, Array(gone.values))
        }
        for instance in dropped { PlacedUpstream.close(instance) }
        if changed { onChange(self) }
    }

    /// The peers taking part now, by name.
    var peers: [Peer] { state.withLock { $0.peers } }

    /// Whether a connection's client certificate (its SHA-256) is a gateway SVID that a node taking
    /// part announced: another gateway's SVID — a node gone from the registry, another cluster's
    /// under a shared root — is not.
    func isPeer(certificateHash: String) -> Bool {
        !certificateHash.isEmpty && state.withLock { $0.certificates.contains(certificateHash) }
    }

    /// The node that runs `revision`: nil when it is this one.
    func home(of revision: RevisionKey) -> Peer? {
        let (peers, takesPart) = state.withLock { ($0.peers, $0.takesPart) }
        guard !peers.isEmpty else { return nil }
        // A node the others cannot dial is nobody's home, its own revisions' included.
        let names = peers.map(\.name) + (takesPart ? [node] : [])
        let winner = Rendezvous.winner(of: NodeHop.value(for: revision), among: names)
        return peers.first { $0.name == winner }
    }

    /// `local`, or — when another node is the revision's home — that node in front of it.
    func upstream(for spec: FunctionSpec, local: any FunctionUpstream) -> any FunctionUpstream {
        guard let peer = home(of: spec.revisionKey) else { return local }
        let key = Key(peer: peer, revision: spec.revisionKey)
        let (instance, dropped) = state.withLock { state -> (FunctionInstance, [FunctionInstance]) in
            if let known = state.instances[key] { return (known, []) }
            // Revisions come and go with applies: past the bound, the stand-ins start afresh.
            var dropped: [FunctionInstance] = []
            if state.instances.count >= Self.maxStandIns {
                dropped = Array(state.instances.values)
                state.instances.removeAll()
            }
            let made = PlacedUpstream.peerInstance(
                node: peer.name, host: peer.host, port: peer.port, tls: tls, spec: spec, eventLoops: eventLoops)
            state.instances[key] = made
            return (made, dropped)
        }
        for stale in dropped { PlacedUpstream.close(stale) }
        return PlacedUpstream(local: local, peer: instance, node: peer.name, reachability: reachability)
    }

    /// `https://HOST:PORT` as announced; nil for a wildcard address nobody can dial.
    static func dialable(_ url: String) -> (String, Int)? {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else { return nil }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        guard !bare.isEmpty, bare != "0.0.0.0", bare != "::" else { return nil }
        return (bare, port)
    }

    /// The other node must present the gateway's own SVID (its chain was verified against the
    /// mesh's bundle in the handshake): nothing else may receive a node's hop.
    static func checkGateway(_ leaf: NIOSSLCertificate?, gateway: SPIFFEID) -> String? {
        guard let leaf, let certificate = try? Certificate(derEncoded: leaf.toDERBytes()) else { return "the node sent no certificate" }
        switch SVIDVerifier.spiffeID(of: certificate) {
        case .failure(let error): return "the node's certificate is not an SVID: \(error)"
        case .success(let id): return id == gateway ? nil : "the node presented \(id), not the gateway's \(gateway)"
        }
    }
}
