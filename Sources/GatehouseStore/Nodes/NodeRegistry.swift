import Foundation

/// The nodes that share a store, each with a heartbeat: SQLite (one machine) and PostgreSQL
/// (a mesh of machines) keep them in the same database as the config.
///
/// **Clock.** Heartbeat times and ages are the store's: PostgreSQL's `now()`, so a node whose
/// clock is off is judged like any other; on SQLite all nodes share the machine's clock.
///
/// **Names.** A name belongs to one process at a time. `claim` takes it when it is free, when its
/// holder is `NotReady`, or when its holder was this process's own state directory (whose lock
/// the claimant holds, so that process is gone however it ended); otherwise it is refused. A
/// heartbeat or leave only touches the row while it is still the caller's (`NodeClaim.owner`).
public protocol NodeRegistry: Sendable {
    /// Takes `claim.name` for this process (starting its row with a heartbeat now), or says who
    /// holds it. The decision and the write are one transaction: of two processes that claim one
    /// name at once, one gets it.
    func claim(_ claim: NodeClaim) async throws(StoreError) -> NodeClaimDecision
    /// Records a heartbeat now, with the node's current addresses. False when the row is no
    /// longer this process's (another took the name while this one was `NotReady`, or it was pruned).
    func heartbeat(_ claim: NodeClaim) async throws(StoreError) -> Bool
    /// Deletes the node's row if it is still this process's: a clean stop.
    func leave(_ claim: NodeClaim) async throws(StoreError)
    /// Every node, by name, as of the store's clock now.
    func nodes() async throws(StoreError) -> [NodeRecord]
    /// Deletes the rows whose last heartbeat is older than `notSeenFor`; returns how many.
    @discardableResult
    func prune(notSeenFor: Duration) async throws(StoreError) -> Int
}

/// What a node writes about itself.
public struct NodeClaim: Sendable, Hashable {
    public var name: NodeName
    /// The state directory's identity (`STATE_DIR/node-id`): a restart from the same directory
    /// follows its predecessor at once instead of waiting for it to become `NotReady`.
    public var owner: String
    public var addresses: NodeAddresses
    /// Written into the row: how long after its last heartbeat this node counts as gone.
    public var goneAfter: Duration

    public init(name: NodeName, owner: String, addresses: NodeAddresses = NodeAddresses(), goneAfter: Duration) {
        self.name = name
        self.owner = owner
        self.addresses = addresses
        self.goneAfter = goneAfter
    }
}

/// The addresses a node bound, as it wrote them to `endpoints.json`; unset until it has bound them.
public struct NodeAddresses: Sendable, Hashable, Codable {
    public var ingress: String?
    public var mesh: String?
    public var admin: String?
    public var adminMtls: String?
    /// SHA-256 (hex) of each root the node's mesh identity trusts: nodes that share one pass
    /// requests to each other (`NodePlacement`); a node with a CA of its own is left out.
    public var meshRoots: [String]?
    /// SHA-256 (hex) of the gateway SVIDs the node presents (the current one and the one before):
    /// another node takes its requests (`NodeHopReceiver`) only over a connection made with one.
    public var gatewayCertificates: [String]?

    public init(
        ingress: String? = nil, mesh: String? = nil, admin: String? = nil, adminMtls: String? = nil, meshRoots: [String]? = nil,
        gatewayCertificates: [String]? = nil
    ) {
        self.ingress = ingress
        self.mesh = mesh
        self.admin = admin
        self.adminMtls = adminMtls
        self.meshRoots = meshRoots
        self.gatewayCertificates = gatewayCertificates
    }

    /// As the stores keep it: one JSON object.
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    init(json: String) {
        self = (try? JSONDecoder().decode(Self.self, from: Data(json.utf8))) ?? NodeAddresses()
    }
}

/// `Ready` while a node heartbeats; `NotReady` once its last heartbeat is older than its `goneAfter`.
public enum NodeState: String, Sendable, Hashable, Codable {
    case ready = "Ready"
    case notReady = "NotReady"
}

/// A node as the store holds it, read at one moment of the store's clock.
public struct NodeRecord: Sendable, Hashable {
    public var name: String
    public var owner: String
    public var addresses: NodeAddresses
    public var startedAt: Date
    public var lastHeartbeat: Date
    /// How long ago `lastHeartbeat` was, by the store's clock when the row was read.
    public var sinceHeartbeat: Duration
    public var goneAfter: Duration

    public init(
        name: String, owner: String, addresses: NodeAddresses, startedAt: Date, lastHeartbeat: Date, sinceHeartbeat: Duration,
        goneAfter: Duration
    ) {
        self.name = name
        self.owner = owner
        self.addresses = addresses
        self.startedAt = startedAt
        self.lastHeartbeat = lastHeartbeat
        self.sinceHeartbeat = sinceHeartbeat
        self.goneAfter = goneAfter
    }

    public var state: NodeState { NodeLiveness.state(sinceHeartbeat: sinceHeartbeat, goneAfter: goneAfter) }
}

/// What `NodeRegistry.claim` decided, and why.
public enum NodeClaimDecision: Sendable, Hashable {
    /// No node had the name.
    case free
    /// The name's holder was `NotReady` (it stopped without leaving): taken over.
    case takenOverFromGone(NodeRecord)
    /// The name was held from this same state directory, whose lock the claimant holds: its
    /// previous process has ended, however it ended.
    case restarted(NodeRecord)
    /// A `Ready` node of another state directory holds the name; nothing was written.
    case refused(NodeRecord)
}

extension Duration {
    /// Seconds as stored (a double), back to the milliseconds a node was configured with.
    static func wholeMilliseconds(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
}
