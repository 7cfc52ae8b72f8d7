import GatehouseCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// ② RequestAuthentication with Istio's semantics, for one config snapshot: every function's
/// rules worked out in advance (as `AuthorizationEngine` does for policies).
///
/// No token: the request goes on with no request principal. A token: one rule whose location
/// holds it must verify it — issuer, key, signature, time (60 s of clock skew, as Envoy), audience
/// — or the request is refused with 401. More than one distinct token is refused too.
public struct JWTAuthenticator: Sendable {
    struct BoundRule: Sendable {
        let policy: String
        let rule: RequestAuthenticationSpec.JWTRule
        let locations: TokenLocations
        let keys: IssuerKeys
    }

    /// A verified token, the rule that accepted it and where it was found.
    public struct Authenticated: Sendable {
        public let jwt: VerifiedJWT
        public let policy: String
        public let rule: RequestAuthenticationSpec.JWTRule
        /// Where the accepting rule found the token (one place, or several holding the same token).
        public let locations: [TokenLocation]
        let token: String

        /// The header changes the rule asks for: the payload and claims for the function, and the
        /// token removed from its header unless `forwardOriginalToken`.
        public func apply(to edits: inout HeaderEdits) {
            if let header = rule.outputPayloadToHeader {
                let segments = token.split(separator: ".", omittingEmptySubsequences: false)
                if segments.count == 3 { edits.setHeader(header, String(segments[1])) }
            }
            for output in rule.outputClaimToHeaders {
                guard let value = jwt.claims[output.claim] else { continue }
                let text = value.strings.joined(separator: ",")
                if !text.isEmpty, !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) { edits.setHeader(output.header, text) }
            }
            if !rule.forwardOriginalToken {
                for case .header(let name) in locations where !edits.remove.contains(name) { edits.remove.append(name) }
            }
        }
    }

    /// What can be known without leaving the event loop.
    public enum Start: Sendable {
        /// No token in any of the function's token locations (or no rule applies).
        case anonymous
        case finished(Result<Authenticated, AuthenticationFailure>)
        /// The signature must be checked (or keys fetched) first: `verify` it off the loop.
        case verify(Pending)
    }

    public struct Pending: Sendable {
        let token: String
        /// The rules whose locations hold the token, each with where it found it.
        let rules: [(rule: BoundRule, locations: [TokenLocation])]
    }

    static let clockSkew: Int64 = 60

    let byFunction: [FunctionKey: [BoundRule]]
    /// Every rule of each issuer across every policy: how the token endpoint verifies a client's own JWT.
    let clientRules: [String: [BoundRule]]
    /// Headers the rules write for each function: removed from every request before they are set,
    /// so a caller cannot pose as a verified user by sending them.
    private let outputHeaders: [FunctionKey: [String]]
    private let cache: VerifiedTokenCache
    /// Query parameters that may carry tokens, per function: redacted in logs.
    private let tokenParameters: [FunctionKey: [String]]

    public init(policies: [RequestAuthenticationSpec], functions: [FunctionSpec], rootNamespace: String, directory: KeyDirectory) {
        cache = directory.cache
        var byFunction: [FunctionKey: [BoundRule]] = [:]
        var outputHeaders: [FunctionKey: [String]] = [:]
        var tokenParameters: [FunctionKey: [String]] = [:]
        let ordered = policies.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        for function in functions {
            let rules = ordered.filter {
                WorkloadScope.applies(
                    namespace: $0.namespace, selector: $0.selector, targetNames: $0.targetNames, to: function,
                    rootNamespace: rootNamespace)
            }.flatMap { policy in
                policy.jwtRules.map { BoundRule(policy: policy.reference, rule: $0, locations: TokenLocations(rule: $0), keys: directory.keys(for: $0)) }
            }
            guard !rules.isEmpty else { continue }
            byFunction[function.key] = rules
            let outputs = Set(rules.flatMap(\.rule.outputHeaders))
            if !outputs.isEmpty { outputHeaders[function.key] = outputs.sorted() }
            tokenParameters[function.key] = Array(Set(rules.flatMap(\.locations.parameterNames)))
        }
        self.byFunction = byFunction
        var clientRules: [String: [BoundRule]] = [:]
        for policy in ordered {
            for rule in policy.jwtRules {
                clientRules[rule.issuer, default: []].append(
                    BoundRule(policy: policy.reference, rule: rule, locations: TokenLocations(rule: rule), keys: directory.keys(for: rule)))
            }
        }
        self.clientRules = clientRules
        self.outputHeaders = outputHeaders
        self.tokenParameters = tokenParameters
    }

    public func hasRules(for function: FunctionKey) -> Bool { byFunction[function] != nil }

    /// The rules that apply to a function, with the policy each comes from (for `explain`).
    public func rules(for function: FunctionKey) -> [(policy: String, rule: RequestAuthenticationSpec.JWTRule)] {
        (byFunction[function] ?? []).map { ($0.policy, $0.rule) }
    }

    public func outputHeaders(for function: FunctionKey) -> [String] { outputHeaders[function] ?? [] }

    /// `path` with token-carrying query parameters redacted; nil when it carries none.
    public func redactedPath(_ path: String, function: FunctionKey) -> String? {
        guard let names = tokenParameters[function], !names.isEmpty else { return nil }
        return QueryRedaction.redacting(names, in: path)
    }

    /// Finds the token and answers from the cache when it can; runs on the event loop.
    public func start(function: FunctionKey, headers: some RequestHeaders, query: Substring?, now: Int64 = Self.now()) -> Start {
        guard let rules = byFunction[function] else { return .anonymous }
        var token: String?
        var holding: [(rule: BoundRule, locations: [TokenLocation])] = []
        for rule in rules {
            var locations: [TokenLocation] = []
            for found in rule.locations.tokens(in: headers, query: query) {
                if let token, token != found.token { return .finished(.failure(.multipleTokens)) }
                token = found.token
                locations.append(found.location)
            }
            if !locations.isEmpty { holding.append((rule, locations)) }
        }
        guard let token else { return .anonymous }
        var cachedFailure: AuthenticationFailure?
        var allCached = true
        for (rule, locations) in holding {
            guard let jwt = cache.lookup(keys: rule.keys.id, generation: rule.keys.generation, token: token, now: now) else {
                allCached = false
                continue
            }
            if let failure = Self.check(jwt, against: rule.rule, now: now) {
                cachedFailure = cachedFailure ?? failure
            } else {
                return .finished(.success(Authenticated(jwt: jwt, policy: rule.policy, rule: rule.rule, locations: locations, token: token)))
            }
        }
        if let cachedFailure, allCached { return .finished(.failure(cachedFailure)) }
        return .verify(Pending(token: token, rules: holding))
    }

    /// Checks the signature (fetching keys if needed), then the claims; off the event loop.
    public func verify(_ pending: Pending, now: Int64 = Self.now()) async -> Result<Authenticated, AuthenticationFailure> {
        let token: UnverifiedToken
        do { token = try UnverifiedToken(pending.token) } catch { return .failure(error) }
        var firstFailure: AuthenticationFailure?
        for (rule, locations) in pending.rules where rule.rule.issuer == token.issuer {
            guard var keySet = await rule.keys.keySet() else {
                firstFailure = firstFailure ?? .keysUnavailable
                continue
            }
            // Keys the token names but the set lacks, or a signature no current key verifies: the
            // issuer may have rotated. Fetch again (rate limited) and retry once with a new set.
            var payload = await Self.verifySignature(pending.token, token, with: keySet)
            if payload == nil, let refreshed = await rule.keys.refreshForUnknownKey(), refreshed.generation != keySet.generation {
                keySet = refreshed
                payload = await Self.verifySignature(pending.token, token, with: keySet)
            }
            guard let payload else {
                let candidates = keySet.candidates(algorithm: token.algorithm, keyID: token.keyID)
                firstFailure = firstFailure ?? (candidates.isEmpty ? .unknownKey : .invalidSignature)
                continue
            }
            // Signed, but `exp` or `nbf` is not a time (Envoy refuses these too): it would never expire.
            guard let verified = payload.jwt else { return .failure(.malformed) }
            cache.insert(verified, keys: rule.keys.id, generation: keySet.generation, token: pending.token, now: now)
            if let failure = Self.check(verified, against: rule.rule, now: now) {
                firstFailure = firstFailure ?? failure
                continue
            }
            return .success(Authenticated(jwt: verified, policy: rule.policy, rule: rule.rule, locations: locations, token: pending.token))
        }
        return .failure(firstFailure ?? .issuerNotTrusted)
    }

    private static func verifySignature(_ text: String, _ token: UnverifiedToken, with keySet: KeySet) async -> ClaimsPayload? {
        for key in keySet.candidates(algorithm: token.algorithm, keyID: token.keyID) {
            if let payload = try? await key.signer.verify(text, as: ClaimsPayload.self) { return payload }
        }
        return nil
    }

    /// What must hold on every use of a verified token: its issuer is the rule's, it is within its
    /// validity (with clock skew), and it names an accepted audience when the rule lists any.
    static func check(_ jwt: VerifiedJWT, against rule: RequestAuthenticationSpec.JWTRule, now: Int64) -> AuthenticationFailure? {
        if jwt.issuer != rule.issuer { return .issuerNotTrusted }
        if let expires = jwt.expires, now > expires + clockSkew { return .expired }
        if let notBefore = jwt.notBefore, now + clockSkew < notBefore { return .notYetValid }
        if !rule.audiences.isEmpty, !jwt.audiences.contains(where: rule.audiences.contains) { return .audienceNotAllowed }
        return nil
    }

    public static func now() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }
}
