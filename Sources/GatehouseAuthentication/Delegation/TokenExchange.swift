import Foundation
import GatehouseCore

/// RFC 8693 token exchange for one config snapshot: an agent, authenticated as itself, trades a
/// person's token for a short-lived one that lets it call one function for that person.
///
/// In order: who the agent is (its SVID over mutual TLS, or its own JWT); which function it asks
/// for; the person's token, verified as that function would verify it (or one Gatehouse issued to
/// this very agent, to extend a chain); the DelegationPolicies of that function; the scopes, only
/// ever narrowed. Each refusal says which of these failed, never with a token in it.
public struct TokenExchange: Sendable {
    public let issuer: GatehouseIssuer
    let authenticator: JWTAuthenticator
    let rules: DelegationRules
    /// A function by the hosts that name it: its service host and `NAME.NAMESPACE.<domain>`.
    let functionsByHost: [String: FunctionSpec]
    let trustDomain: String

    public init(issuer: GatehouseIssuer, authenticator: JWTAuthenticator, rules: DelegationRules, functions: [FunctionSpec], domain: String, trustDomain: String) {
        self.issuer = issuer
        self.authenticator = authenticator
        self.rules = rules
        self.trustDomain = trustDomain
        var byHost: [String: FunctionSpec] = [:]
        for function in functions where function.broker == nil {
            byHost[function.serviceHost] = function
            byHost["\(function.name).\(function.namespace).\(domain)"] = function
        }
        functionsByHost = byHost
    }

    /// What was granted: the response body, and what the access log and audit say of it.
    public struct Issued: Sendable {
        public let body: String
        public let grant: DelegationGrant
        public let policy: String
        /// `NAMESPACE/NAME` of the audience, as the audit log names functions.
        public let function: String
    }

    /// A refusal, with what was known of the exchange when it was refused (for the audit log).
    public struct Refused: Error, Sendable {
        public let error: OAuthError
        public let note: TokenExchangeNote

        public init(error: OAuthError, note: TokenExchangeNote) {
            self.error = error
            self.note = note
        }
    }

    /// `peer`: the mesh identity the client proved over mutual TLS, if any.
    public func exchange(_ request: TokenExchangeRequest, peer: PeerIdentity?) async -> Result<Issued, Refused> {
        var known = TokenExchangeNote(granted: false)
        do throws(OAuthError) {
            guard let tokenEndpoint = issuer.issuer.map({ $0 + IssuerPaths.token }), let issuerURL = issuer.issuer else {
                throw OAuthError(.temporarilyUnavailable, reason: "exchange_keys_not_loaded", "the issuer's keys are not loaded yet; retry")
            }
            let actor = try await authenticateActor(request, peer: peer, audiences: [issuerURL, tokenEndpoint])
            known.actors = [actor]
            let function = try target(of: request)
            known.audience = function.key.description
            let (subject, subjectIssuer) = try await verifySubject(request.subjectToken, for: function, actor: actor)
            let chain = ActorChain(claim: subject.claims["act"]).adding(actor)
            known.subject = subject.principal
            known.actors = chain.actors
            let policy: String
            switch rules.decide(audience: function, actor: actor, subject: subject.principal, depth: chain.depth) {
            case .allowed(let name): policy = name
            case .refused(let reason, let detail):
                throw Self.refusal(reason, detail: detail)
            }
            let grant = DelegationGrant(
                audience: function.serviceHost, subject: subject.principal, subjectIssuer: subjectIssuer, chain: chain,
                scope: try Self.scope(request.scope, of: subject), email: subject.claims["email"]?.strings.first,
                groups: subject.claims["groups"].map(\.strings), claims: try Self.copiedClaims(of: subject))
            guard let (token, lifetime) = await issuer.issueDelegatedToken(grant) else {
                throw OAuthError(.temporarilyUnavailable, reason: "exchange_signing_failed", "the token could not be signed; retry")
            }
            var response: [String: Any] = [
                "access_token": token, "issued_token_type": request.requestedTokenType, "token_type": "Bearer", "expires_in": lifetime,
            ]
            if let scope = grant.scope { response["scope"] = scope }
            return .success(Issued(body: Self.json(response), grant: grant, policy: policy, function: function.key.description))
        } catch {
            known.reason = error.detail.map { "\(error.reason): \($0)" } ?? error.reason
            return .failure(Refused(error: error, note: known))
        }
    }

    /// The agent: its SVID, or its own JWT (`client_assertion`, RFC 7523, or `actor_token`); two
    /// that name different agents are refused rather than one chosen.
    private func authenticateActor(_ request: TokenExchangeRequest, peer: PeerIdentity?, audiences: [String]) async throws(OAuthError) -> String {
        var names: [String] = []
        if let peer {
            // A partner mesh's certificate is verified but names no workload of this mesh: not an agent here.
            guard peer.principal != nil else {
                throw OAuthError(.invalidClient, reason: "exchange_client_external", "a certificate from another trust domain cannot act for people here")
            }
            names.append(peer.uri)
        }
        for token in [request.clientAssertion, request.actorToken].compactMap({ $0 }) {
            switch await authenticator.verifyClient(token, audiences: audiences) {
            case .success(let jwt): names.append(jwt.principal)
            case .failure(let failure):
                throw OAuthError(.invalidClient, reason: "exchange_client_\(failure.code)", "the agent's own token was refused: \(failure.sentence)")
            }
        }
        guard let actor = names.first else {
            throw OAuthError(.invalidClient, reason: "exchange_client_unauthenticated",
                "authenticate as the agent: mutual TLS with its SVID on the mesh listener, or client_assertion (RFC 7523) from a trusted issuer")
        }
        guard names.allSatisfy({ $0 == actor }) else {
            throw OAuthError(.invalidClient, reason: "exchange_client_ambiguous", "the SVID, client_assertion and actor_token name different agents")
        }
        return actor
    }

    /// The function asked for: `audience` is its service host (or `NAME.NAMESPACE.<domain>`),
    /// `resource` its URL (RFC 8707).
    /// Both given (RFC 8693 §2.1 allows it): they must name the same function.
    private func target(of request: TokenExchangeRequest) throws(OAuthError) -> FunctionSpec {
        var hosts: [String?] = []
        if let audience = request.audience { hosts.append(audience.lowercased()) }
        if let resource = request.resource { hosts.append(URLComponents(string: resource)?.host?.lowercased()) }
        let functions = hosts.map { $0.flatMap { functionsByHost[$0] } }
        guard let first = functions.first ?? nil, functions.allSatisfy({ $0?.key == first.key }) else {
            throw OAuthError(.invalidTarget, reason: "exchange_unknown_target", "no single function is named by that audience and resource")
        }
        return first
    }

    /// The person's token as the target verifies it; or a token Gatehouse issued (a delegated
    /// token, or an `X-Gatehouse-Assertion`) whose audience is the agent's own function: an agent
    /// extends a chain only with a token that was given to it, and only towards a function whose
    /// own rules trust the issuer that vouched for the person. Returns the token and that issuer.
    private func verifySubject(_ token: String, for function: FunctionSpec, actor: String) async throws(OAuthError) -> (VerifiedJWT, String) {
        if issuer.claimsToHaveIssued(token) {
            switch await issuer.verifyIssued(token, types: [IssuedTokenType.accessToken, IssuedTokenType.assertion]) {
            case .success(let jwt):
                // An assertion about a mesh workload names no person: nobody to act for.
                guard !jwt.principal.hasPrefix("spiffe://"), case .string(let subjectIssuer) = jwt.claims["subject_issuer"] else {
                    throw OAuthError(.invalidGrant, reason: "exchange_subject_not_a_person", "the subject token names a workload, not a person")
                }
                let actorFunction = jwt.audiences.lazy.compactMap { self.functionsByHost[$0] }.first { self.spiffeID(of: $0) == actor }
                guard let actorFunction else {
                    throw OAuthError(.invalidGrant, reason: "exchange_subject_not_for_actor", "the subject token was issued to another function than the agent's own")
                }
                // The audience must trust that issuer itself, and through the same keys the agent's
                // function did (a test key for the same issuer name elsewhere proves nothing here).
                let audienceSources = authenticator.keySources(for: function.key, issuer: subjectIssuer)
                let actorSources = authenticator.keySources(for: actorFunction.key, issuer: subjectIssuer)
                guard !audienceSources.isEmpty, actorSources.isSubset(of: audienceSources) else {
                    throw OAuthError(.invalidGrant, reason: "exchange_subject_issuer_not_trusted",
                        "the function asked for does not trust the issuer that vouched for this person")
                }
                return (jwt, subjectIssuer)
            case .failure(let failure):
                throw OAuthError(.invalidGrant, reason: "exchange_subject_\(failure.code)", "the subject token was refused: \(failure.sentence)")
            }
        }
        switch await authenticator.verify(token, asCallerOf: function.key) {
        case .success(let authenticated): return (authenticated.jwt, authenticated.jwt.issuer)
        case .failure(let failure):
            throw OAuthError(.invalidGrant, reason: "exchange_subject_\(failure.code)",
                "the subject token was refused by the RequestAuthentications of the function asked for: \(failure.sentence)")
        }
    }

    /// The person's claims a delegated token carries besides Gatehouse's own (so a DENY on a claim
    /// still applies to an agent); refused past `maxCopiedClaimBytes` rather than cut, which
    /// could drop the very claim a DENY names.
    static func copiedClaims(of subject: VerifiedJWT) throws(OAuthError) -> [String: ClaimValue] {
        let copied = subject.claims.filter { !DelegatedTokenClaims.reserved.contains($0.key) }
        let size = (try? JSONEncoder().encode(copied).count) ?? .max
        guard size <= maxCopiedClaimBytes else {
            throw OAuthError(.invalidGrant, reason: "exchange_subject_too_large", "the person's token carries more claims than a delegated token may")
        }
        return copied
    }

    static let maxCopiedClaimBytes = 8 * 1024

    /// A DelegationPolicy refusal as the caller sees it: the check that failed, no policy named.
    static func refusal(_ reason: String, detail: String) -> OAuthError {
        switch reason {
        case DelegationDecision.noPolicy:
            OAuthError(.unauthorizedClient, reason: reason, "no DelegationPolicy allows exchanges for this function", detail: detail)
        case DelegationDecision.actorNotAllowed:
            OAuthError(.unauthorizedClient, reason: reason, "this agent may not act for anyone at this function", detail: detail)
        case DelegationDecision.subjectNotAllowed:
            OAuthError(.invalidGrant, reason: reason, "this agent may not act for this subject at this function", detail: detail)
        case DelegationDecision.tooDeep:
            OAuthError(.invalidGrant, reason: reason, "the delegation chain would be longer than allowed", detail: detail)
        default:
            OAuthError(.invalidGrant, reason: reason, "the exchange is not allowed", detail: detail)
        }
    }

    private func spiffeID(of function: FunctionSpec) -> String {
        "spiffe://\(trustDomain)/ns/\(function.namespace)/sa/\(function.serviceAccount)"
    }

    /// RFC 8693 §2.1 / RFC 6749 §3.3: what was asked, if each is one the person's token carries
    /// (`scope`, space-separated, or `scp`, a list); nothing asked: the person's scopes as they are.
    static func scope(_ requested: [String]?, of subject: VerifiedJWT) throws(OAuthError) -> String? {
        let held: [String] = switch subject.claims["scope"] {
        case .string(let text): text.split(separator: " ").map(String.init)
        default: subject.claims["scp"]?.strings ?? []
        }
        guard let requested else { return held.isEmpty ? nil : held.joined(separator: " ") }
        let widened = requested.filter { !held.contains($0) }
        guard widened.isEmpty else {
            throw OAuthError(.invalidScope, reason: "exchange_scope_widened", "a delegated token can only narrow the person's scopes; \(widened.count) asked for are not among them")
        }
        return requested.isEmpty ? nil : requested.joined(separator: " ")
    }

    public static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
