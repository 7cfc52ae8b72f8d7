import GatehouseCore

/// Whether a policy's rules match a request, and when a rule does not, the first clause that failed,
/// in words (`to[0].operation.methods: "GET" is not one of ["POST"]`) — the material of every
/// explanation.
enum PolicyMatcher {
    /// The index of the first matching rule, or for each rule why it missed.
    static func evaluate(_ policy: AuthorizationPolicySpec, _ request: AuthorizationRequest) -> PolicyEvaluation {
        var misses: [String] = []
        for (index, rule) in policy.rules.enumerated() {
            if let miss = self.miss(rule, request) {
                misses.append("rule \(index): \(miss)")
            } else {
                return PolicyEvaluation(policy: policy, matchedRule: index, misses: misses)
            }
        }
        if policy.rules.isEmpty { misses.append("it has no rules, so it matches no request") }
        return PolicyEvaluation(policy: policy, matchedRule: nil, misses: misses)
    }

    /// nil when the rule matches; otherwise why not.
    static func miss(_ rule: AuthorizationPolicySpec.Rule, _ request: AuthorizationRequest) -> String? {
        if !rule.from.isEmpty {
            var reasons: [String] = []
            for (index, source) in rule.from.enumerated() {
                guard let reason = miss(source, request) else { reasons = []; break }
                reasons.append("from[\(index)].source.\(reason)")
            }
            if !reasons.isEmpty { return reasons.joined(separator: "; ") }
        }
        if !rule.to.isEmpty {
            var reasons: [String] = []
            for (index, operation) in rule.to.enumerated() {
                guard let reason = miss(operation, request) else { reasons = []; break }
                reasons.append("to[\(index)].operation.\(reason)")
            }
            if !reasons.isEmpty { return reasons.joined(separator: "; ") }
        }
        for (index, condition) in rule.when.enumerated() {
            if let reason = miss(condition, request) { return "when[\(index)] \(condition.key): \(reason)" }
        }
        return nil
    }

    private static func miss(_ source: AuthorizationPolicySpec.Source, _ request: AuthorizationRequest) -> String? {
        check("principals", source.principals, request.sourcePrincipal, absent: "no peer identity (plaintext)")
            ?? check("requestPrincipals", source.requestPrincipals, request.requestPrincipal, absent: "no verified JWT")
            ?? check("namespaces", source.namespaces, request.sourceNamespace, absent: "no peer identity (plaintext)")
            ?? check("serviceAccounts", source.serviceAccounts, request.sourceServiceAccount, absent: "no peer identity (plaintext)")
            ?? check("ipBlocks", source.ipBlocks, request.sourceIP, absent: "no source address", matches: ipMatches)
            ?? check("remoteIpBlocks", source.remoteIpBlocks, request.remoteIP, absent: "no remote address", matches: ipMatches)
    }

    private static func miss(_ operation: AuthorizationPolicySpec.Operation, _ request: AuthorizationRequest) -> String? {
        check("hosts", operation.hosts, request.host, absent: "no host", matches: StringMatch.matchesHost)
            ?? check("ports", operation.ports, String(request.destinationPort), absent: "no port")
            ?? check("methods", operation.methods, request.method, absent: "no method")
            ?? check("paths", operation.paths, request.path, absent: "no path", matches: StringMatch.matchesPath)
    }

    private static func miss(_ condition: AuthorizationPolicySpec.Condition, _ request: AuthorizationRequest) -> String? {
        let (values, isIP) = attribute(condition.key, request)
        let matches: (String, String) -> Bool = { pattern, value in
            isIP ? ipMatches(pattern, value) : StringMatch.matches(pattern, value)
        }
        let shown = values.isEmpty ? "absent" : values.map { "\"\($0)\"" }.joined(separator: ", ")
        if !condition.match.values.isEmpty {
            guard values.contains(where: { value in condition.match.values.contains { matches($0, value) } }) else {
                return "\(shown) is not one of \(list(condition.match.values))"
            }
        }
        if let hit = condition.match.notValues.first(where: { pattern in values.contains { matches(pattern, $0) } }) {
            return "\(shown) matches notValues \"\(hit)\""
        }
        return nil
    }

    /// A source or operation field: `value` must match one of `match.values` (if any) and none of
    /// `match.notValues`. An absent value matches no value and no `not` value.
    private static func check(
        _ field: String, _ match: AuthorizationPolicySpec.Match, _ value: String?, absent: String,
        matches: (String, String) -> Bool = plainMatches
    ) -> String? {
        if !match.values.isEmpty {
            guard let value else { return "\(field): \(absent)" }
            guard match.values.contains(where: { matches($0, value) }) else {
                return "\(field): \"\(value)\" is not one of \(list(match.values))"
            }
        }
        if let value, let hit = match.notValues.first(where: { matches($0, value) }) {
            let notField = "not" + field.prefix(1).uppercased() + field.dropFirst()
            return "\(notField): \"\(value)\" matches \"\(hit)\""
        }
        return nil
    }

    /// The values a `when` key names in this request, and whether they are addresses.
    static func attribute(_ key: String, _ request: AuthorizationRequest) -> (values: [String], isIP: Bool) {
        if let name = bracketed(key, prefix: "request.headers") {
            return (request.headers[name.lowercased()].map { [$0] } ?? [], false)
        }
        if let path = bracketed(key, prefix: "request.auth.claims") {
            var value: ClaimValue? = .object(request.claims)
            for part in path.split(separator: "][").map(String.init) {
                guard case .object(let object) = value else { return ([], false) }
                value = object[part]
            }
            return (value?.strings ?? [], false)
        }
        switch key {
        case "source.ip": return (request.sourceIP.map { [$0] } ?? [], true)
        case "remote.ip": return (request.remoteIP.map { [$0] } ?? [], true)
        case "destination.ip": return (request.destinationIP.map { [$0] } ?? [], true)
        case "destination.port": return ([String(request.destinationPort)], false)
        case "source.namespace": return (request.sourceNamespace.map { [$0] } ?? [], false)
        case "source.principal": return (request.sourcePrincipal.map { [$0] } ?? [], false)
        case "request.auth.principal": return (request.requestPrincipal.map { [$0] } ?? [], false)
        case "request.auth.audiences": return (request.audiences, false)
        case "request.auth.presenter": return (request.presenter.map { [$0] } ?? [], false)
        case "connection.sni": return (request.sni.map { [$0] } ?? [], false)
        default: return ([], false)
        }
    }

    /// `request.headers[X-Team]` → `X-Team`; `request.auth.claims[a][b]` → `a][b`.
    static func bracketed(_ key: String, prefix: String) -> String? {
        guard key.hasPrefix(prefix + "["), key.hasSuffix("]") else { return nil }
        return String(key.dropFirst(prefix.count + 1).dropLast())
    }

    private static func plainMatches(_ pattern: String, _ value: String) -> Bool {
        StringMatch.matches(pattern, value)
    }

    private static func ipMatches(_ pattern: String, _ address: String) -> Bool {
        IPBlock(pattern)?.contains(address) ?? false
    }

    private static func list(_ values: [String]) -> String {
        "[" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }
}

/// One policy checked against one request.
public struct PolicyEvaluation: Sendable {
    public let policy: AuthorizationPolicySpec
    /// The first rule that matched; nil when none did.
    public let matchedRule: Int?
    /// Why each rule before it (or every rule) did not match.
    public let misses: [String]

    public var matched: Bool { matchedRule != nil }
}
