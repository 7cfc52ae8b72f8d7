/// The request's path, computed once at the front: normalized as Istio does by default (see
/// `PathNormalization`), so routing, policies, the access log and the function all see the same
/// one. A route's `rewrite` replaces it; what it was before stays for the access log (Envoy's
/// `x-envoy-original-path`).
public struct RequestPath: Sendable, Hashable, CustomStringConvertible {
    /// The normalized path with its query: what the next stage matches and the function gets.
    public private(set) var value: String
    /// The value before a route rewrote it; nil when none did.
    public private(set) var beforeRewrite: String?
    /// How logs show it when its query carried a credential (`?access_token=`, see
    /// `QueryRedaction`): the value replaced.
    public var redacted: String?

    /// `target` as the caller sent it (origin form, with its query).
    /// Most targets need no work: one scan, no copy.
    public init(_ target: String) {
        let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        if PathNormalization.needsWork(target[..<mark]) {
            value = PathNormalization.normalize(String(target[..<mark])) + target[mark...]
        } else {
            value = target
        }
        if mark != target.endIndex { redacted = QueryRedaction.redacting(QueryRedaction.alwaysRedacted, in: value) }
    }

    /// The path without its query.
    public var path: Substring {
        guard let mark = value.utf8.firstIndex(of: UInt8(ascii: "?")) else { return value[...] }
        return value[..<mark]
    }

    /// The query with its `?`, or empty.
    public var query: Substring {
        guard let mark = value.utf8.firstIndex(of: UInt8(ascii: "?")) else { return "" }
        return value[mark...]
    }

    /// A route's rewrite (its target is normalized too, so a rewrite cannot reintroduce `..`).
    public mutating func rewrite(to target: String) {
        if beforeRewrite == nil { beforeRewrite = value }
        value = RequestPath(target).value
    }

    /// What the access log and the decision log show: before any rewrite, tokens replaced.
    public var logged: String { redacted ?? beforeRewrite ?? value }

    public var description: String { value }
}
