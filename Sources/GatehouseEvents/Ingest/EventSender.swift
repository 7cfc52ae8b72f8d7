import GatehouseCore

/// Who publishes an event, as EventPolicies see it: a verified caller of the broker ingress, or a
/// source Gatehouse runs itself (a PingSource).
public enum EventSender: Sendable, Hashable {
    /// The names a caller may be matched by: its JWT's `iss/sub` (Istio's request principal — the
    /// bare `sub` is not enough when several issuers are trusted), its SPIFFE ID with and without
    /// `spiffe://` (Istio's principal form). Empty: anonymous.
    case caller(names: [String])
    case source(kind: String, namespace: String, name: String)

    /// From what the stages verified about a request.
    public init(record: RequestRecord) {
        var names: [String] = []
        if let jwt = record.jwt { names.append(jwt.principal) }
        if let peer = record.peer {
            names.append(peer.uri)
            if let principal = peer.principal { names.append(principal) }
        }
        self = .caller(names: names)
    }

    /// Said in a denial's reason (names only, never a token).
    var description: String {
        switch self {
        case .caller(let names): names.isEmpty ? "an anonymous caller" : names.last!
        case .source(let kind, let namespace, let name): "\(kind) \(namespace)/\(name)"
        }
    }
}
