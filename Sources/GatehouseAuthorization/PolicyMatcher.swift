import GatehouseCore

/// Matches rules against a request. Two entry points share one set of field checks:
/// `matches` answers yes or no without allocating (the request path), and `miss` says in words
/// which clause failed (`to[0].operation.methods: "GET" is not one of ["POST"]`), for reasons and
/// `gatehouse explain`.
enum PolicyMatcher {
    /// The request path's question: does this rule match?
    /// Plain loops rather than closures: a closure capturing the request would retain each of its
    /// strings for every rule checked.
    static func matches(_ rule: AuthorizationPolicySpec.Rule, _ request: AuthorizationRequest) -> Bool {
        if !rule.from.isEmpty {
            var any = false
            for source in rule.from where sourceVerdict(source, request) == nil {
                any = true
                break
            }
            if !any { return false }
        }
        if !rule.to.isEmpty {
            var any = false
            for operation in rule.to where operationVerdict(operation, request) == nil {
                any = true
                break
            }
            if !any { return false }
        }
        for condition in rule.when where !conditionVerdict(condition, request).isMatch { return false }
        return true
    }

    /// The first rule of `policy` that matches, if any.
    static func firstMatch(_ policy: AuthorizationPolicySpec, _ request: AuthorizationRequest) -> Int? {
        for index in policy.rules.indices where matches(policy.rules[index], request) { return index }
        return nil
    }

    /// Every rule checked, with why each one before the match (or every one) missed.
    static func evaluate(_ policy: AuthorizationPolicySpec, _ request: AuthorizationRequest) -> PolicyEvaluation {
        var misses: [String] = []
        for (index, rule) in policy.rules.enumerated() {
            guard let miss = miss(rule, request) else {
                return PolicyEvaluation(policy: policy, matchedRule: index, misses: misses)
            }
            misses.append("rule \(index): \(miss)")
        }
        if policy.rules.isEmpty { misses.append("it has no rules, so it matches no request") }
        return PolicyEvaluation(policy: policy, matchedRule: nil, misses: misses)
    }

    /// Writes `evaluate(policy, request).misses.first ?? "no match"` without working out the misses
    /// after the first: a denial's reason needs only that.
    static func writeFirstMiss(_ policy: AuthorizationPolicySpec, _ request: AuthorizationRequest, to words: inout String) {
        guard let rule = policy.rules.first else { return words += "it has no rules, so it matches no request" }
        let length = words.utf8.count
        words += "rule 0: "
        if !writeMiss(rule, request, to: &words) {
            // Rule 0 matched (never on a denial's path): take back the "rule 0: ".
            words = String(decoding: words.utf8.prefix(length), as: UTF8.self) + "no match"
        }
    }

    /// nil when the rule matches; otherwise why not, in words.
    static func miss(_ rule: AuthorizationPolicySpec.Rule, _ request: AuthorizationRequest) -> String? {
        var words = ""
        return writeMiss(rule, request, to: &words) ? words : nil
    }

    /// Writes why `rule` does not match and returns true; returns false when it matches. Into one
    /// string, piece by piece, because a denial's reason is written on the request path and each
    /// interpolated piece longer than 15 bytes was an allocation of its own.
    private static func writeMiss(_ rule: AuthorizationPolicySpec.Rule, _ request: AuthorizationRequest, to words: inout String) -> Bool {
        if !rule.from.isEmpty, !rule.from.contains(where: { sourceVerdict($0, request) == nil }) {
            for (index, source) in rule.from.enumerated() {
                if index > 0 { words += "; " }
                words += "from["
                words += String(index)
                words += "].source."
                sourceVerdict(source, request)?.write(to: &words)
            }
            return true
        }
        if !rule.to.isEmpty, !rule.to.contains(where: { operationVerdict($0, request) == nil }) {
            for (index, operation) in rule.to.enumerated() {
                if index > 0 { words += "; " }
                words += "to["
                words += String(index)
                words += "].operation."
                operationVerdict(operation, request)?.write(to: &words)
            }
            return true
        }
        for (index, condition) in rule.when.enumerated() {
            let verdict = conditionVerdict(condition, request)
            if !verdict.isMatch {
                words += "when["
                words += String(index)
                words += "] "
                words += condition.key
                words += ": "
                verdict.write(values: attribute(condition.key, request).values, to: &words)
                return true
            }
        }
        return false
    }

    // MARK: Field checks, shared

    /// Why a field did not match; nil when it did. Holds only references to existing strings.
    struct FieldMiss {
        /// Empty for an exclusion, whose verdict names its `not` field.
        var field: StaticString
        var verdict: Verdict
        var value: String?

        var words: String {
            var words = ""
            write(to: &words)
            return words
        }

        func write(to words: inout String) {
            if field.utf8CodeUnitCount > 0 {
                words += "\(field)"
                words += ": "
            }
            if let value { verdict.write(values: CollectionOfOne(value), to: &words) } else { verdict.write(values: EmptyCollection(), to: &words) }
        }
    }

    enum Verdict {
        case match
        case absent(StaticString)
        case notOneOf([String])
        case excluded(notField: StaticString, by: String)

        var isMatch: Bool {
            if case .match = self { return true }
            return false
        }

        func words(values: [String]) -> String {
            var words = ""
            write(values: values, to: &words)
            return words
        }

        /// `"a", "b" is not one of ["x", "y"]`, `notPaths: "/a" matches "/a*"`, …
        func write(values: some Collection<String>, to words: inout String) {
            switch self {
            case .match: words += "matches"
            case .absent(let what): words += "\(what)"
            case .notOneOf(let patterns):
                if values.isEmpty { words += "absent" } else { Self.quote(values, to: &words) }
                words += " is not one of ["
                Self.quote(patterns, to: &words)
                words += "]"
            case .excluded(let notField, let pattern):
                words += "\(notField): "
                Self.quote(values, to: &words)
                words += " matches \""
                words += pattern
                words += "\""
            }
        }

        private static func quote(_ values: some Collection<String>, to words: inout String) {
            for (index, value) in values.enumerated() {
                words += index == 0 ? "\"" : ", \""
                words += value
                words += "\""
            }
        }
    }

    static func sourceVerdict(_ source: AuthorizationPolicySpec.Source, _ request: AuthorizationRequest) -> FieldMiss? {
        if let miss = field("principals", source.principals, request.sourcePrincipal, absent: "no peer identity (plaintext)", not: "notPrincipals") { return miss }
        if let miss = field("requestPrincipals", source.requestPrincipals, request.requestPrincipal, absent: "no verified JWT", not: "notRequestPrincipals") { return miss }
        if !source.namespaces.isEmpty,
           let miss = field("namespaces", source.namespaces, request.sourceNamespace, absent: "no peer identity (plaintext)", not: "notNamespaces") { return miss }
        if !source.serviceAccounts.isEmpty,
           let miss = field("serviceAccounts", source.serviceAccounts, request.sourceServiceAccount, absent: "no peer identity (plaintext)", not: "notServiceAccounts") { return miss }
        if let miss = field("ipBlocks", source.ipBlocks, request.sourceIP, absent: "no source address", not: "notIpBlocks", kind: .address) { return miss }
        return field("remoteIpBlocks", source.remoteIpBlocks, request.remoteIP, absent: "no remote address", not: "notRemoteIpBlocks", kind: .address)
    }

    static func operationVerdict(_ operation: AuthorizationPolicySpec.Operation, _ request: AuthorizationRequest) -> FieldMiss? {
        if let miss = field("hosts", operation.hosts, request.host, absent: "no host", not: "notHosts", kind: .host) { return miss }
        if !operation.ports.isEmpty, let miss = field("ports", operation.ports, String(request.destinationPort), absent: "no port", not: "notPorts") { return miss }
        if let miss = field("methods", operation.methods, request.method, absent: "no method", not: "notMethods") { return miss }
        return field("paths", operation.paths, request.path, absent: "no path", not: "notPaths", kind: .path)
    }

    static func conditionVerdict(_ condition: AuthorizationPolicySpec.Condition, _ request: AuthorizationRequest) -> Verdict {
        let (values, isAddress) = attribute(condition.key, request)
        let kind: MatchKind = isAddress ? .address : .string
        if !condition.match.values.isEmpty,
           !values.contains(where: { value in condition.match.values.contains { kind.matches($0, value) } }) {
            return .notOneOf(condition.match.values)
        }
        if let hit = condition.match.notValues.first(where: { pattern in values.contains { kind.matches(pattern, $0) } }) {
            return .excluded(notField: "notValues", by: hit)
        }
        return .match
    }

    /// A source or operation field: the value must match one of `match.values` (if any) and none of
    /// `match.notValues`. An absent value matches no value and no `not` value.
    private static func field(
        _ name: StaticString, _ match: AuthorizationPolicySpec.Match, _ value: String?, absent: StaticString,
        not notName: StaticString, kind: MatchKind = .string
    ) -> FieldMiss? {
        if match.isEmpty { return nil }
        if !match.values.isEmpty {
            guard let value else { return FieldMiss(field: name, verdict: .absent(absent), value: nil) }
            var found = false
            for pattern in match.values where kind.matches(pattern, value) {
                found = true
                break
            }
            if !found { return FieldMiss(field: name, verdict: .notOneOf(match.values), value: value) }
        }
        if let value {
            for pattern in match.notValues where kind.matches(pattern, value) {
                return FieldMiss(field: "", verdict: .excluded(notField: notName, by: pattern), value: value)
            }
        }
        return nil
    }

    enum MatchKind {
        case string, host, path, address

        func matches(_ pattern: String, _ value: String) -> Bool {
            switch self {
            case .string: StringMatch.matches(pattern, value)
            case .host: StringMatch.matchesHost(pattern, value)
            case .path: StringMatch.matchesPath(pattern, value)
            case .address: IPBlock(pattern)?.contains(value) ?? false
            }
        }
    }

    /// The values a `when` key names in this request, and whether they are addresses.
    static func attribute(_ key: String, _ request: AuthorizationRequest) -> (values: [String], isAddress: Bool) {
        if let name = bracketed(key, opening: "request.headers[") {
            return (request.headers[name.lowercased()].map { [$0] } ?? [], false)
        }
        if let path = bracketed(key, opening: "request.auth.claims[") {
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
        // Gatehouse's shorthand: every agent in the token's `act` chain, not only the current one.
        case "request.auth.actors": return (ActorChain(claim: request.claims["act"]).actors, false)
        case "connection.sni": return (request.sni.map { [$0] } ?? [], false)
        case "connection.uri_san_peer_certificate": return (request.peerCertificateURI.map { [$0] } ?? [], false)
        default: return ([], false)
        }
    }

    /// `request.headers[X-Team]` → `X-Team`; `request.auth.claims[a][b]` → `a][b`. The opening
    /// comes whole (with its `[`) as a literal: joining it here cost an allocation per condition.
    static func bracketed(_ key: String, opening: String) -> String? {
        guard key.hasPrefix(opening), key.hasSuffix("]") else { return nil }
        return String(key.dropFirst(opening.count).dropLast())
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
