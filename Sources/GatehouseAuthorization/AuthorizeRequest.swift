import Foundation
import GatehouseCore

/// ③ The authorization stage: runs once routing has chosen the function (its policies are the
/// ones that apply), records the decision, and refuses a denied request with 403.
///
/// A function no policy applies to costs one dictionary probe. Otherwise the path is normalized —
/// and the function receives the normalized path — and the request is checked.
public struct AuthorizeRequest: RequestStage {
    public let engine: AuthorizationEngine
    /// Headers named by the policies' `request.headers[…]` conditions, per function.
    private let headerNames: [FunctionKey: [String]]

    /// See `MeshSpec.numTrustedProxies`.
    public let trustedProxies: Int

    public init(engine: AuthorizationEngine, functions: [FunctionSpec], trustedProxies: Int = 0) {
        self.engine = engine
        self.trustedProxies = trustedProxies
        var headerNames: [FunctionKey: [String]] = [:]
        for function in functions {
            let names = engine.policies(for: function.key).flatMap(\.rules).flatMap(\.when).compactMap {
                PolicyMatcher.bracketed($0.key, prefix: "request.headers")?.lowercased()
            }
            if !names.isEmpty { headerNames[function.key] = Array(Set(names)) }
        }
        self.headerNames = headerNames
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        guard let function = record.destination?.key, engine.hasPolicies(for: function) else { return .proceed }
        let (path, query) = PathNormalization.split(record.path)
        let normalized = PathNormalization.normalize(path)
        if normalized != path { record.upstreamPath = normalized + query }
        var named: [String: String] = [:]
        for name in headerNames[function] ?? [] { named[name] = headers.joined(name) }
        let request = AuthorizationRequest(
            method: record.method, host: record.authority, path: normalized, destinationPort: record.destinationPort,
            destinationIP: record.destinationAddress, sourceIP: record.downstreamAddress,
            remoteIP: Self.remoteAddress(forwardedFor: trustedProxies > 0 ? headers.joined("x-forwarded-for") : nil,
                                         trustedProxies: trustedProxies, peer: record.downstreamAddress),
            headers: named)
        let decision = engine.decide(request, function: function)
        record.decision = decision
        guard decision.outcome == .deny else { return .proceed }
        let code: GatehouseError.Code = decision.policy == nil ? .notAllowedByPolicy : .deniedByPolicy
        return .reject(GatehouseError(code, detail: decision.reason))
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
