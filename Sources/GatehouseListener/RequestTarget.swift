import NIOHTTP1

/// The request target as the rest of Gatehouse sees it: always origin-form (`/path?query`).
///
/// HTTP/1.1 servers must accept the absolute form (`GET http://host/path`); as Envoy does, it is
/// turned into origin-form with the URI's authority as `Host`, so that routing, policies and the
/// function all see the same path — a policy on `/admin` cannot be sidestepped by writing the
/// target as `http://host/admin`. Anything else (but `OPTIONS *`) is refused with 400.
public enum RequestTarget {
    /// The head in origin-form, or nil when its target is neither origin- nor absolute-form.
    public static func originForm(_ head: HTTPRequestHead) -> HTTPRequestHead? {
        let uri = head.uri
        if uri.utf8.first == UInt8(ascii: "/") { return head }
        if uri == "*", head.method == .OPTIONS { return head }
        let lowered = uri.prefix(8).lowercased()
        let schemeLength = lowered.hasPrefix("http://") ? 7 : lowered.hasPrefix("https://") ? 8 : 0
        guard schemeLength > 0 else { return nil }
        let rest = uri.dropFirst(schemeLength)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<end]
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        // A fragment stays, for `RequestHeadCheck` to refuse as it does in origin-form.
        var path = String(rest[end...])
        if !path.hasPrefix("/") { path = "/" + path }
        var rewritten = head
        rewritten.uri = path
        rewritten.headers.replaceOrAdd(name: "host", value: String(authority))
        return rewritten
    }
}
