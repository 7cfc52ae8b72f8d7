import Foundation
import GatehouseCore
import GatehouseFunctions
import GatehouseIdentity
import GatehouseStore
import NIOCore
import NIOSSL
import Synchronization
import X509

/// Which node of the mesh runs each function (all its revisions): its **home**, the `Ready` node
/// that ranks highest for it by rendezvous hashing (`Rendezvous`) of the node's name and the
/// function. Every node computes the same home from the same registry, so a function's instances
/// run on one node and its `maxInstances`
/// holds for the mesh; a request that arrives elsewhere is passed to the home over the mesh
/// listener (`NodeHop`, mutual TLS with the gateways' SVIDs). When nodes come or go, only the
/// functions whose home changes move.
///
/// A node takes part once it has announced a mesh address another node can dial (not a wildcard
/// bind) and only with the nodes whose CA shares a root with its own (nodes that joined with a
/// join token; a node that made a CA of its own serves alone). The registry is read after every
/// heartbeat, so a node that stopped is passed over after its `goneAfter`; until then a refused
/// connection makes the sender run the request itself (`PlacedUpstream`).
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
        /// Stand-ins for a peer's instances, per revision; dropped when the peer leaves or moves.
        var instances: [Key: FunctionInstance] = [:]
        /// Each function's home as computed for the nodes above (nil: this node), so a request
        /// hashes nothing; forgotten whenever the nodes change.
        var homes: [FunctionKey: Peer?] = [:]
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
    /// The gateway SVIDs (SHA-256) the mesh's other Ready nodes announced: whom a hop is taken
    /// from, and whom one is sent to.
    private let announced = AnnouncedCertificates()
    private let eventLoops: [any EventLoop]
    /// Towards a home: HTTP/1.1, and HTTP/2 (ALPN `h2`) for an h2c function's calls.
    private let tls: UpstreamTLS
    private let tlsHTTP2: UpstreamTLS
    private let identity: MeshIdentity

    /// Told when the nodes taking part change (the runtime moves its `minInstances` to the homes).
    private let onChange: @Sendable (NodePlacement) -> Void

    init(node: String, identity: MeshIdentity, eventLoops: [any EventLoop], onChange: @escaping @Sendable (NodePlacement) -> Void = { _ in }) {
        self.node = node
        self.identity = identity
        self.onChange = onChange
        self.eventLoops = eventLoops
        let gateway = identity.gatewayID
        let announced = announced
        let checkPeer: UpstreamTLS.PeerCheck = { leaf in
            // The home must be a node of the mesh by the registry, not merely hold the gateway's SPIFFE ID.
            Self.checkGateway(leaf, gateway: gateway)
                ?? (leaf.flatMap(Self.fingerprint).map(announced.contains) == true ? nil : "the node's certificate is none a node of the mesh announced")
        }
        tls = UpstreamTLS(serverHostname: nil, context: { try identity.nodeClientContext() }, checkPeer: checkPeer)
        tlsHTTP2 = UpstreamTLS(serverHostname: nil, context: { try identity.nodeClientContext(h2: true) }, checkPeer: checkPeer)
    }

    /// The `Ready` nodes of the registry with an address to dial and a root this node trusts, this one excluded.
    func update(_ records: [NodeRecord]) {
        let roots = Set(identity.rootFingerprints)
        // Every Ready node sharing a root may send hops, dialable or not (one bound to a wildcard
        // address still passes its requests on); only the dialable ones are homes.
        let members = records.filter { record in
            record.name != node && record.state == .ready && !roots.isDisjoint(with: record.addresses.meshRoots ?? [])
        }
        announced.set(Set(members.flatMap { $0.addresses.gatewayCertificates ?? [] }))
        let peers = members.compactMap { record -> Peer? in
            guard let mesh = record.addresses.mesh, let (host, port) = Self.dialable(mesh) else { return nil }
            return Peer(name: record.name, host: host, port: port)
        }.sorted { $0.name < $1.name }
        let own = records.first { $0.name == node }
        let takesPart = own?.state == .ready && own?.addresses.mesh.flatMap(Self.dialable) != nil
        let (changed, dropped) = state.withLock { state -> (Bool, [FunctionInstance]) in
            guard state.peers != peers || state.takesPart != takesPart else { return (false, []) }
            state.takesPart = takesPart
            state.peers = peers
            state.homes.removeAll()
            let kept = Set(peers)
            let gone = state.instances.filter { !kept.contains($0.key.peer) }
            for key in gone.keys { state.instances[key] = nil }
            return (true, Array(gone.values))
        }
        for instance in dropped { PlacedUpstream.close(instance) }
        if changed { onChange(self) }
    }

    /// Whether a connection's client certificate (its SHA-256) is a gateway SVID that a node taking
    /// part announced: another gateway's SVID — a node gone from the registry, another cluster's
    /// under a shared root — is not.
    func isPeer(certificateHash: String) -> Bool {
        !certificateHash.isEmpty && announced.contains(certificateHash)
    }

    /// This node is leaving: from now on it runs everything it still gets itself (the others
    /// drop its certificates at their next heartbeat, and would refuse its hops).
    func leave() {
        let dropped = state.withLock { state -> [FunctionInstance] in
            state.peers = []
            state.homes.removeAll()
            defer { state.instances.removeAll() }
            return Array(state.instances.values)
        }
        for instance in dropped { PlacedUpstream.close(instance) }
    }

    static func fingerprint(_ leaf: NIOSSLCertificate) -> String? {
        (try? leaf.toDERBytes()).map(MeshIdentity.fingerprint(der:))
    }

    /// The node that runs `revision`: nil when it is this one.
    func home(of revision: RevisionKey) -> Peer? {
        state.withLock { state in
            guard !state.peers.isEmpty else { return nil }
            if let known = state.homes[revision.function] { return known }
            // A node the others cannot dial is nobody's home, its own functions' included.
            let names = state.peers.map(\.name) + (state.takesPart ? [node] : [])
            let winner = Rendezvous.winner(of: NodeHop.placementKey(for: revision.function), among: names)
            let home = state.peers.first { $0.name == winner }
            // Functions come and go with applies: past the bound, the memo starts afresh.
            if state.homes.count >= Self.maxStandIns { state.homes.removeAll() }
            state.homes[revision.function] = home
            return home
        }
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
                node: peer.name, host: peer.host, port: peer.port, tls: spec.speaksHTTP2 ? tlsHTTP2 : tls, spec: spec, eventLoops: eventLoops)
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

/// A set read on every hop and every new connection to a peer, replaced after each heartbeat.
private final class AnnouncedCertificates: Sendable {
    private let hashes = Mutex<Set<String>>([])

    func set(_ new: Set<String>) { hashes.withLock { $0 = new } }
    func contains(_ hash: String) -> Bool { hashes.withLock { $0.contains(hash) } }
}
