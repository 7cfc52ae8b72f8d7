import Foundation
import GatehouseCore

/// ③ The authorization stage: runs once routing has chosen the function (its policies are the
/// ones that apply), records the decision, and refuses a denied request with 403.
///
/// A function no policy applies to costs one dictionary probe.
public struct AuthorizeRequest: RequestStage {
    public let engine: AuthorizationEngine
    /// Headers named by the policies' `request.headers[…]` conditions, per function.
    private let headerNames: [FunctionKey: [String]]

    /// See `MeshSpec.numTrustedProxies`.
    public let trustedProxies: Int
    /// The providers CUSTOM policies name, by name.
    private let providers: [String: ExtAuthzProvider]
    private let authorizer: ExternalAuthorizer

    public init(
        engine: AuthorizationEngine, functions: [FunctionSpec], trustedProxies: Int = 0, providers: [ExtAuthzProvider] = [],
        authorizer: ExternalAuthorizer
    ) {
        self.engine = engine
        self.trustedProxies = trustedProxies
        self.providers = Dictionary(providers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.authorizer = authorizer
        var headerNames: [FunctionKey: [String]] = [:]
        for function in functions {
            let names = engine.policies(for: function.key).flatMap(\.rules).flatMap(\.when).compactMap {
                PolicyMatcher.bracketed($0.key, opening: "request.headers[")?.lowercased()
            }
            if !names.isEmpty { headerNames[function.key] = Array(Set(names)) }
        }
        self.headerNames = headerNames
    }

    public var name: StageName { .authorization }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        guard let function = record.destination?.key, engine.hasPolicies(for: function) else { return .proceed }
        let request = attributes(of: record, headers: headers)
        if let (policy, rule) = engine.customPolicy(matching: request, function: function),
           let provider = policy.provider.flatMap({ providers[$0] }) {
            let check = ExternalAuthorizer.check(
                for: provider, method: record.method, host: record.authority, path: record.path.value, headers: headers)
            let (authorizer, engine) = (authorizer, engine)
            return .suspend {
                let outcome = await authorizer.ask(provider, check)
                return { record in
                    Self.conclude(outcome, policy: policy, rule: rule, provider: provider, request: request, engine: engine, record: &record)
                }
            }
        }
        return Self.decide(request, function: function, engine: engine, record: &record)
    }

    /// The same decision, with every applying policy's evaluation (`policies`: each with its
    /// `matchedRule` or the `misses` of its rules). A CUSTOM policy's provider is not asked: the
    /// note says it would decide first, and the verdict is what follows if it allows.
    public func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation {
        guard let function = record.destination?.key, engine.hasPolicies(for: function) else {
            return StageExplanation(.proceed, note: record.destination.map { "no AuthorizationPolicy applies to \($0.key)" })
        }
        let request = attributes(of: record, headers: headers)
        let (_, evaluations) = engine.explain(request, function: function)
        let verdict = Self.decide(request, function: function, engine: engine, record: &record)
        var details: [String: DetailValue] = [
            "policies": .list(evaluations.map { evaluation in
                var entry: [String: DetailValue] = [
                    "policy": .string(evaluation.policy.reference), "action": .string(evaluation.policy.action.rawValue),
                    "dryRun": .bool(evaluation.policy.dryRun), "misses": .list(evaluation.misses.map(DetailValue.string)),
                ]
                if let rule = evaluation.matchedRule { entry["matchedRule"] = .int(rule) }
                if let source = evaluation.policy.source { entry["source"] = .string("\(source.file):\(source.line)") }
                return .object(entry)
            }),
            "path": .string(String(record.path.path)),
        ]
        let decision = record.decision
        if let decision {
            details["decision"] = .string(decision.outcome.rawValue)
            if let policy = decision.policy { details["decidingPolicy"] = .string(policy) }
            if let rule = decision.rule { details["rule"] = .int(rule) }
            if !decision.audited.isEmpty { details["audited"] = .list(decision.audited.map(DetailValue.string)) }
            if !decision.dryRun.isEmpty { details["dryRun"] = .list(decision.dryRun.map(DetailValue.string)) }
        }
        var note = decision?.reason
        if let (policy, rule) = engine.customPolicy(matching: request, function: function) {
            details["custom"] = .string("\(policy.reference) rule \(rule)")
            note = "CUSTOM policy \(policy.reference) rule \(rule) matched: provider \(policy.provider ?? "?") decides first "
                + "(explain does not call it); if it allows: " + (decision?.reason ?? "")
        }
        if case .reject(let error) = verdict, let note { return StageExplanation(.reject(GatehouseError(error.code, detail: note)), details: details) }
        return StageExplanation(verdict, note: note, details: details)
    }

    /// What policies match against. The path is the one the function will get: normalized at the
    /// front, after a route's rewrite (as the destination's sidecar sees it in Istio).
    func attributes(of record: RequestRecord, headers: some RequestHeaders) -> AuthorizationRequest {
        var named: [String: String] = [:]
        if let function = record.destination?.key {
            for name in headerNames[function] ?? [] { named[name] = headers.joined(name) }
        }
        return AuthorizationRequest(
            method: record.method, host: record.authority, path: String(record.path.path), destinationPort: record.destinationPort,
            destinationIP: record.destinationAddress, sourceIP: record.downstreamAddress,
            remoteIP: Self.remoteAddress(forwardedFor: trustedProxies > 0 ? headers.joined("x-forwarded-for") : nil,
                                         trustedProxies: trustedProxies, peer: record.downstreamAddress),
            sourcePrincipal: record.peer?.principal, requestPrincipal: record.jwt?.principal, audiences: record.jwt?.audiences ?? [],
            presenter: record.jwt?.presenter, claims: record.jwt?.claims ?? [:],
            sni: record.sni, headers: named, peerCertificateURI: record.peer?.uri)
    }

    /// DENY, then ALLOW policies.
    static func decide(
        _ request: AuthorizationRequest, function: FunctionKey, engine: AuthorizationEngine, record: inout RequestRecord,
        allowedBy custom: String? = nil
    ) -> StageVerdict {
        var decision = engine.decide(request, function: function)
        if let custom { decision.reason = custom + "; " + decision.reason }
        record.decision = decision
        guard decision.outcome == .deny else { return .proceed }
        let code: GatehouseError.Code = decision.policy == nil ? .notAllowedByPolicy : .deniedByPolicy
        return .reject(GatehouseError(code, detail: decision.reason))
    }

    /// After the provider answered: its denial (or failure) ends the request; its allow lets
    /// DENY and ALLOW policies decide, with the headers it chose for the function.
    static func conclude(
        _ outcome: ExternalAuthorizer.Outcome, policy: AuthorizationPolicySpec, rule: Int, provider: ExtAuthzProvider,
        request: AuthorizationRequest, engine: AuthorizationEngine, record: inout RequestRecord
    ) -> StageVerdict {
        let matched = "CUSTOM policy \(policy.reference) rule \(rule) matched"
        guard let function = record.destination?.key else { return .proceed }
        func deny(_ reason: String, _ error: GatehouseError) -> StageVerdict {
            record.decision = AccessDecision(outcome: .deny, policy: policy.reference, action: .custom, rule: rule, reason: reason)
            return .reject(error)
        }
        switch outcome {
        case .allowed(let headers):
            for (name, value) in headers { record.upstreamHeaders.setHeader(name, value) }
            return decide(request, function: function, engine: engine, record: &record, allowedBy: "\(matched); provider \(provider.name) allowed")
        case .denied(let response):
            let reason = "\(matched); provider \(provider.name) denied with status \(response.status)"
            return deny(reason, GatehouseError(.deniedByExternalAuthorizer, detail: reason, response: response))
        case .failed(let error) where provider.failOpen:
            return decide(request, function: function, engine: engine, record: &record,
                          allowedBy: "\(matched); provider \(provider.name) failed (\(error)) and fails open")
        case .failed(let error):
            let reason = "\(matched); provider \(provider.name) failed: \(error)"
            let status = GatehouseError.PassedResponse(status: provider.statusOnError, headers: [], body: "")
            return deny(reason, GatehouseError(.externalAuthorizerError, detail: reason, response: status))
        }
    }

    /// The original client as Envoy works it out with `xff_num_trusted_hops`: with N trusted
    /// proxies in front, the Nth `X-Forwarded-For` entry from the right (the leftmost when there are
    /// fewer); with none, or no header, the direct peer.
    public static func remoteAddress(forwardedFor: String?, trustedProxies: Int, peer: String?) -> String? {
        guard trustedProxies > 0, let forwardedFor else { return peer }
        let entries = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !entries.isEmpty else { return peer }
        return entries[max(0, entries.count - trustedProxies)]
    }
}
