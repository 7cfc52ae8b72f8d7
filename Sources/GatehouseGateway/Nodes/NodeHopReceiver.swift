import GatehouseAuthentication
import GatehouseCore
import GatehouseExchange
import NIOCore

/// The mesh listener's first step: a request another node of the mesh routed, admitted and sent
/// here because this node is its revision's home (`NodePlacement`). It runs on this node's
/// instances at once; no stage runs again (the sending node ran them all, and spent its rate
/// limits), and it is never sent on, so two nodes cannot pass a request back and forth.
///
/// Taken only over a connection whose client certificate is the gateway SVID
/// (`spiffe://TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse`, of the mesh's own trust domain) that a
/// `Ready` node sharing this node's root announced in the registry — not any holder of that
/// SPIFFE ID (a node long gone, another cluster under a shared root) — and only when it names this
/// node. A gateway's hop that fails those checks is refused with `NodeHop.refusedHeader` (the sender
/// then runs it itself). From anyone else the hop is ignored (the listener already removed its
/// headers) and the request takes the whole path like any other.
struct NodeHopReceiver: ExchangeProcessor {
    let live: LiveConfig
    /// The gateway's principal, `TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse`.
    let gateway: String
    /// This node's name and the nodes it knows; nil when it shares no mesh (SQLite): no hop is taken.
    let placement: NodePlacement?
    let next: any ExchangeProcessor
    /// Assertions being signed for hops at once; past it, refused like any other overload.
    let signing = ConcurrencyLimit(limit: 4096)

    func begin(_ exchange: Exchange) {
        guard let hop = exchange.record.extensions[NodeHop.Arrived.self], let peer = exchange.record.peer, peer.principal == gateway else {
            next.begin(exchange)
            return
        }
        exchange.record.viaMeshListener = true
        guard let placement, placement.isPeer(certificateHash: peer.certificateHash) else {
            return refuse(exchange, .unknownSender, "a gateway certificate no node of the mesh announced")
        }
        guard hop.target == placement.node else {
            return refuse(exchange, .notThisNode, "a hop meant for node \(hop.target ?? "-")")
        }
        let config = live.active
        guard let key = NodeHop.revision(from: hop.revision), config.invoker.serves(key), let destination = config.destinations[key] else {
            // The sending node applied a config this one has not caught up with (within a second), or has left behind.
            return refuse(exchange, .notServed, "a hop for revision \(hop.revision), which this node does not serve")
        }
        exchange.record.destination = destination
        exchange.record.extensions[NodeHop.Accepted.self] = true
        // The function's assertion is this node's, so it verifies with this node's JWKS.
        guard let subject = hop.subject.flatMap(AssertionSubject.init(hopHeaderValue:)), subject.audience == destination.serviceHost else {
            config.invoker.invoke(exchange, destination: destination)
            return
        }
        let issuer = config.issuer
        switch issuer.cachedAssertion(for: subject) {
        case .cached(let token):
            exchange.record.upstreamHeaders.setHeader(IdentityHeaders.assertion, token)
            config.invoker.invoke(exchange, destination: destination)
        case .unavailable:
            config.invoker.invoke(exchange, destination: destination)
        case .needsSigning:
            guard signing.enter() else {
                exchange.fail(GatehouseError(.overloaded, detail: "\(signing.limit) hops already wait for an assertion", retryAfter: .seconds(1)))
                return
            }
            let bound = NIOLoopBound(exchange, eventLoop: exchange.eventLoop)
            let (loop, signing) = (exchange.eventLoop, signing)
            Task {
                let token = await issuer.assertion(for: subject)
                signing.leave()
                loop.execute {
                    let exchange = bound.value
                    guard !exchange.isFinished else { return }
                    if let token { exchange.record.upstreamHeaders.setHeader(IdentityHeaders.assertion, token) }
                    config.invoker.invoke(exchange, destination: destination)
                }
            }
        }
    }

    /// Nothing ran: the sending node is told so, and runs the request itself.
    private func refuse(_ exchange: Exchange, _ reason: NodeHop.Refusal, _ what: String) {
        exchange.record.responseHeaders.setHeader(NodeHop.refusedHeader, reason.rawValue)
        exchange.fail(GatehouseError(.functionUnavailable, detail: "refused \(what)", retryAfter: .seconds(1)))
    }
}
