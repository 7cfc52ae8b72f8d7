/// A request one node of a mesh passes to another, to run on that node's instances of the
/// revision it already routed to and admitted (see docs/store-postgres.md, "Placement").
///
/// The sending node ran the whole request path; the receiving node runs none of it again. It takes
/// these headers only from a caller whose SVID is the gateway's own
/// (`spiffe://TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse`, which no workload can hold); the
/// listener removes them from every request on arrival, so nobody else's reach a stage or a function.
public enum NodeHop {
    /// The revision to run: `NAMESPACE/FUNCTION/NUMBER`.
    public static let revisionHeader = "x-gatehouse-node-hop"
    /// The caller the sending node verified, for the receiving node's own `X-Gatehouse-Assertion`
    /// (base64 of the subject's JSON); absent for an anonymous caller.
    public static let subjectHeader = "x-gatehouse-node-hop-subject"
    /// The node the sender means (its registry name): a node that is not it refuses the hop (two
    /// nodes announcing the same address, a loopback bind on two hosts).
    public static let targetHeader = "x-gatehouse-node-hop-to"
    /// The request headers of a hop: removed on every arrival, never set by a stage's edits.
    public static let requestHeaders: Set<String> = [revisionHeader, subjectHeader, targetHeader]
    /// On the receiving node's refusal (it does not know the sender, is not the node meant, or does
    /// not serve the revision yet): nothing ran, and the sender runs the request itself. Removed
    /// from every function's response, so only Gatehouse can say it.
    public static let refusedHeader = "x-gatehouse-node-hop-refused"

    /// Why a node refused a hop (the value of `refusedHeader`).
    public enum Refusal: String, Sendable {
        /// The connection's certificate is no gateway SVID a node of the mesh announced (yet).
        case unknownSender = "unknown-sender"
        /// The hop names another node.
        case notThisNode = "not-this-node"
        /// This node does not serve the revision (it has not applied it yet, or no longer serves it).
        case notServed = "not-served"
    }

    /// What placement hashes (`Rendezvous`): the function, so all its revisions share a home — a
    /// new revision warms up where the old one runs, and a traffic split stays on one node.
    public static func placementKey(for key: FunctionKey) -> String {
        "\(key.namespace)/\(key.name)"
    }

    /// The revision as the header carries it.
    public static func value(for key: RevisionKey) -> String {
        "\(key.function.namespace)/\(key.function.name)/\(key.number)"
    }

    /// The revision a header names; nil when it is malformed.
    public static func revision(from value: String) -> RevisionKey? {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, let number = Int(parts[2]), number > 0 else { return nil }
        return RevisionKey(function: FunctionKey(namespace: String(parts[0]), name: String(parts[1])), number: number)
    }

    /// What arrived in the headers over mutual TLS (the listener moved it here and removed the
    /// headers); whether it is taken depends on who the peer is.
    public struct Arrived: RecordExtensionKey, Sendable {
        public typealias Value = Arrived
        public var revision: String
        public var subject: String?
        public var target: String?
        /// The `X-Forwarded-Client-Cert` values the sending node set for the function.
        public var clientCertificate: [String]

        public init(revision: String, subject: String?, target: String? = nil, clientCertificate: [String] = []) {
            self.revision = revision
            self.subject = subject
            self.target = target
            self.clientCertificate = clientCertificate
        }
    }

    /// Set on the receiving node once it took the hop: the request is forwarded to the instance as
    /// the sending node prepared it (no second `X-Forwarded-*`, no `X-Forwarded-Client-Cert` naming
    /// the sending node).
    public struct Accepted: RecordExtensionKey, Sendable {
        public typealias Value = Bool
    }

    /// Set on the sending node: the caller's subject, sent along when the request goes to a peer.
    public struct Subject: RecordExtensionKey, Sendable {
        public typealias Value = String
    }
}
