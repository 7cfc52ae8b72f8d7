import GatehouseAuthentication
import GatehouseCore
import GatehouseExchange
import NIOCore

/// The mesh listener's first step: a request another node of the mesh routed, admitted and sent
/// here because this node is its revision's home (`NodePlacement`). It runs on this node's
/// instances at once; no stage runs again (the sending node ran them all, and spent its rate
/// limits), and it is never sent on, so two nodes cannot pass a request back and forth.
///
/// Taken only from a peer whose SVID is the gateway's own — `spiffe://TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse`
/// of the mesh's own trust domain, which no workload can be issued (`ReservedServiceAccounts`).
/// From anyone else the hop is ignored (the listener already removed its headers) and the request
/// takes the whole path like any other.
struct NodeHopReceiver: ExchangeProcessor {
    let live: LiveConfig
    /// The gateway's principal, `TRUST_DOMAIN/ns/ROOT_NAMESPACE/sa/gatehouse`.
    let gateway: String
    let next: any ExchangeProcessor

    func begin(_ exchange: Exchange) {
        guard let hop = exchange.record.extensions[NodeHop.Arrived.self], let principal = exchange.record.peer?.principal,
              principal == gateway
        else {
            next.begin(exchange)
            return
        }
        exchange.record.viaMeshListener = true
        let config = live.active
        guard let key = NodeHop.revision(from: hop.revision), config.invoker.serves(key), let destination = config.destinations[key] else {
            // The sending node applied a config this one has not caught up with (within a second), or has left behind.
            exchange.fail(GatehouseError(
                .functionUnavailable, detail: "another node sent a request for revision \(hop.revision), which this node does not serve",
                retryAfter: .seconds(1)))
            return
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
            let bound = NIOLoopBound(exchange, eventLoop: exchange.eventLoop)
            let loop = exchange.eventLoop
            Task {
                let token = await issuer.assertion(for: subject)
                loop.execute {
                    let exchange = bound.value
                    guard !exchange.isFinished else { return }
                    if let token { exchange.record.upstreamHeaders.setHeader(IdentityHeaders.assertion, token) }
                    config.invoker.invoke(exchange, destination: destination)
                }
            }
        }
    }
}
