import GatehouseAuthentication
import GatehouseCore
import GatehouseExchange
import NIOCore

/// `POST /.gatehouse/oauth2/token` on every host of every listener: RFC 8693 token exchange
/// (`TokenExchange` decides). Answered before routing, as the issuer's documents are; an agent
/// that authenticates with its SVID calls it on the mesh listener. Answers are never cached
/// (RFC 6749 §5.1) and every one, granted or refused, is audited with the chain.
enum TokenEndpoint {
    /// `suspensions`: the pipeline's bound on requests waiting off the loop; an exchange is one of them.
    static func serve(_ exchange: Exchange, with tokens: TokenExchange, suspensions: ConcurrencyLimit) {
        guard exchange.record.method == "POST" else {
            exchange.respond(GatewayReply(
                status: 405, headers: [("allow", "POST"), ("content-type", "text/plain")], body: "method not allowed\n", details: "token_endpoint"))
            return
        }
        // RFC 6749 §2.3.1's Basic client secret: not a way in here (the agent is its SVID or its JWT).
        if exchange.head.headers.first(name: "authorization")?.lowercased().hasPrefix("basic ") == true {
            refuse(exchange, OAuthError(.invalidClient, reason: "exchange_client_secret",
                "client secrets are not accepted: authenticate with the agent's SVID or a client_assertion"), note: nil)
            return
        }
        let form = exchange.head.headers.first(name: "content-type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false
        guard form else {
            refuse(exchange, OAuthError(.invalidRequest, reason: "exchange_not_a_form", "send the parameters as application/x-www-form-urlencoded"), note: nil)
            return
        }
        let loop = exchange.eventLoop
        let bound = NIOLoopBound(exchange, eventLoop: loop)
        exchange.delegate = BodyCollector(limit: TokenExchangeRequest.maxBodyBytes) { outcome in
            let exchange = bound.value
            exchange.delegate = nil
            let body: [UInt8]
            switch outcome {
            case .complete(let bytes): body = bytes
            case .clientGone: return
            case .tooLarge:
                exchange.fail(GatehouseError(.bodyTooLarge, detail: "a token request is at most \(TokenExchangeRequest.maxBodyBytes) bytes"))
                return
            }
            let peer = exchange.record.peer
            guard suspensions.enter() else {
                exchange.fail(GatehouseError(.overloaded, detail: "\(suspensions.limit) requests already wait off the event loop", retryAfter: .seconds(1)))
                return
            }
            Task {
                defer { suspensions.leave() }
                let result: Result<TokenExchange.Issued, TokenExchange.Refused>
                do throws(OAuthError) {
                    result = await tokens.exchange(try TokenExchangeRequest(form: body), peer: peer)
                } catch {
                    result = .failure(TokenExchange.Refused(error: error, note: TokenExchangeNote(granted: false, actors: peer.map { [$0.uri] } ?? [], reason: error.reason)))
                }
                loop.execute {
                    let exchange = bound.value
                    guard !exchange.isFinished else { return }
                    switch result {
                    case .success(let issued):
                        exchange.record.extensions[TokenExchangeNote.self] = TokenExchangeNote(
                            granted: true, subject: issued.grant.subject, audience: issued.function,
                            actors: issued.grant.chain.actors, policy: issued.policy)
                        exchange.record.decision = AccessDecision(outcome: .allow, reason: "DelegationPolicy \(issued.policy) allowed the exchange")
                        exchange.respond(GatewayReply(status: 200, headers: noStore, body: issued.body, details: "token_exchanged"))
                    case .failure(let refused):
                        refuse(exchange, refused.error, note: refused.note)
                    }
                }
            }
        }
    }

    /// RFC 6749 §5.2's body, with the request id and Gatehouse's reason code beside `error`.
    private static func refuse(_ exchange: Exchange, _ error: OAuthError, note: TokenExchangeNote?) {
        exchange.record.extensions[TokenExchangeNote.self] = note ?? TokenExchangeNote(granted: false, reason: error.reason)
        exchange.record.decision = AccessDecision(outcome: .deny, reason: "token exchange refused (\(error.reason)): \(error.detail ?? error.description)")
        let body = TokenExchange.json([
            "error": error.code.rawValue, "error_description": error.description, "reason": error.reason, "requestId": exchange.record.requestId,
        ])
        exchange.respond(GatewayReply(status: error.status, headers: noStore, body: body + "\n", details: "token_refused"))
    }

    private static let noStore = [("content-type", "application/json"), ("cache-control", "no-store"), ("pragma", "no-cache")]
}
