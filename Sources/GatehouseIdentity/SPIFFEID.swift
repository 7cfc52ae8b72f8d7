/// A SPIFFE ID, `spiffe://TRUST_DOMAIN/PATH`, and Istio's workload form of it:
/// `spiffe://cluster.local/ns/NAMESPACE/sa/SERVICE_ACCOUNT`, whose principal is the URI without
/// its scheme (`cluster.local/ns/default/sa/billing`).
public struct SPIFFEID: Hashable, Sendable, CustomStringConvertible {
    public let trustDomain: String
    /// Starts with `/`.
    public let path: String

    /// Whether `name` may be a trust domain.
    public static func isTrustDomain(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy(Set("abcdefghijklmnopqrstuvwxyz0123456789.-_").contains)
    }

    public init(trustDomain: String, namespace: String, serviceAccount: String) {
        self.trustDomain = trustDomain
        self.path = "/ns/\(namespace)/sa/\(serviceAccount)"
    }

    /// Parses a URI by the SPIFFE ID rules: scheme `spiffe`, a lower-case trust domain of letters,
    /// digits, `.`, `-` and `_`, a non-empty path of segments of letters, digits, `.`, `-` and `_`
    /// (none empty, `.` or `..`). So an ID can be put in a header (XFCC) without quoting.
    public init?(_ uri: String) {
        guard uri.hasPrefix("spiffe://") else { return nil }
        let rest = uri.dropFirst("spiffe://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let domain = rest[..<slash]
        let path = rest[slash...]
        let domainCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789.-_")
        guard !domain.isEmpty, domain.allSatisfy(domainCharacters.contains) else { return nil }
        let segmentCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
        guard !path.isEmpty else { return nil }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && $0.allSatisfy(segmentCharacters.contains) }) else {
            return nil
        }
        self.trustDomain = String(domain)
        self.path = String(path)
    }

    public var description: String { "spiffe://\(trustDomain)\(path)" }

    /// Istio's principal: the ID without `spiffe://`.
    public var principal: String { trustDomain + path }
}
