/// What a DelegationPolicy's `actors` and `subjects` may hold: Istio principal patterns, where `*`
/// alone is "anyone", and otherwise one `*` may start or end a pattern (a suffix or a prefix) —
/// Envoy has no other glob, so a `*` elsewhere would be compared as a literal star and match no one.
enum PrincipalPatternRules {
    /// Why `pattern` cannot name an actor (a SPIFFE ID or `ISSUER/SUBJECT`), with a fix; nil when it can.
    static func actorProblem(_ pattern: String) -> (message: String, fix: String)? {
        if pattern == "*" {
            return ("`*` would let any caller holding someone's token act for them",
                    "name the agents, e.g. \"spiffe://cluster.local/ns/agents/sa/*\" for every agent of a namespace")
        }
        if let problem = globProblem(pattern) { return problem }
        // An agent is named from the start: a suffix glob (`*/sa/bot`) also matches partner trust
        // domains and any issuer whose subjects may end that way.
        if pattern.hasPrefix("*") {
            return ("\"\(pattern)\" matches agents of every trust domain and issuer; an actor pattern may only end with `*`",
                    "name the trust domain or issuer, e.g. \"spiffe://cluster.local/ns/agents/sa/*\"")
        }
        // A prefix glob names its trust domain or issuer whole (`scheme://host/` at least).
        if pattern.hasSuffix("*"), !Self.namesAuthority(pattern.trimmingStars) {
            return ("\"\(pattern)\" stops before naming a whole trust domain or issuer",
                    "write at least spiffe://TRUST-DOMAIN/ or https://ISSUER/ before the `*`")
        }
        let literal = pattern.trimmingStars
        if pattern.hasPrefix("spiffe://") {
            let afterScheme = literal.dropFirst("spiffe://".count)
            let trustDomain = afterScheme.prefix { $0 != "/" }
            // A prefix glob may stop anywhere; an exact ID needs a trust domain and a path.
            if !pattern.hasSuffix("*"), trustDomain.isEmpty || afterScheme.count <= trustDomain.count + 1 {
                return ("\"\(pattern)\" is not a SPIFFE ID", "write spiffe://TRUST-DOMAIN/ns/NAMESPACE/sa/SERVICE-ACCOUNT")
            }
            return nil
        }
        if let istio = istioPrincipal(pattern) {
            return ("\"\(pattern)\" is written as an Istio `principals` entry; actors are full SPIFFE IDs",
                    "write \"spiffe://\(istio)\"")
        }
        return issuerSubjectProblem(pattern, forms: "a SPIFFE ID or ISSUER/SUBJECT", example: "\"spiffe://cluster.local/ns/agents/sa/bot\" or \"https://login.example.com/CLIENT-ID\"")
    }

    /// Why `pattern` cannot name a subject (`ISSUER/SUBJECT`, as Istio's `requestPrincipals`); nil when it can.
    static func subjectProblem(_ pattern: String) -> (message: String, fix: String)? {
        if pattern == "*" { return nil }
        if let problem = globProblem(pattern) { return problem }
        return issuerSubjectProblem(pattern, forms: "ISSUER/SUBJECT (a token's `iss`, a slash, its `sub`)", example: "\"https://login.example.com/USER-ID\" or \"https://login.example.com/*\"")
    }

    private static func globProblem(_ pattern: String) -> (message: String, fix: String)? {
        if pattern.isEmpty { return ("an empty pattern matches no one", "remove it, or write a principal") }
        let inner = pattern.trimmingStars
        if inner.contains("*") || pattern.hasPrefix("*") && pattern.hasSuffix("*") {
            return ("\"\(pattern)\" has a `*` that neither starts nor ends it alone; Istio principal patterns allow one `*`, at the start or at the end",
                    "write a prefix (\"spiffe://cluster.local/ns/agents/*\") or an exact principal")
        }
        return nil
    }

    /// An exact `ISSUER/SUBJECT` has text on both sides of a `/` (a glob may cut either side off).
    private static func issuerSubjectProblem(_ pattern: String, forms: String, example: String) -> (message: String, fix: String)? {
        guard !pattern.contains("*") else { return nil }
        guard pattern.contains("/"), !pattern.hasPrefix("/"), !pattern.hasSuffix("/") else {
            return ("\"\(pattern)\" is not \(forms), so it matches no one", "write e.g. \(example)")
        }
        return nil
    }

    /// `scheme://host/…`: the scheme, a non-empty authority and the slash after it.
    private static func namesAuthority(_ prefix: String) -> Bool {
        guard let scheme = prefix.range(of: "://") else { return false }
        let rest = prefix[scheme.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return false }
        return slash != rest.startIndex && !prefix[..<scheme.lowerBound].isEmpty
    }

    /// `cluster.local/ns/agents/sa/bot` — an AuthorizationPolicy principal — returned as it is when it looks like one.
    private static func istioPrincipal(_ pattern: String) -> String? {
        let parts = pattern.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, !parts[0].contains(":"), !parts[0].isEmpty, parts[1] == "ns", parts[3] == "sa" else { return nil }
        return pattern
    }
}

extension String {
    /// Without one leading and one trailing `*`.
    fileprivate var trimmingStars: String {
        var text = Substring(self)
        if text.hasPrefix("*") { text = text.dropFirst() }
        if text.hasSuffix("*") { text = text.dropLast() }
        return String(text)
    }
}
