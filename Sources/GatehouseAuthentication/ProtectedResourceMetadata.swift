import Foundation
import GatehouseCore

/// OAuth 2.0 Protected Resource Metadata (RFC 9728) for a function that takes bearer tokens:
/// which authorization servers issue tokens it accepts — the issuers of its RequestAuthentication
/// rules, and Gatehouse itself when a DelegationPolicy names it — so an OAuth client (an MCP
/// client, an agent) finds where to get a token without configuration. Served on the function's
/// own host; a 401 points at it (`WWW-Authenticate: Bearer resource_metadata="…"`).
public enum ProtectedResourceMetadata {
    /// The metadata document for a request to `…/.well-known/oauth-protected-resource[/PATH]`,
    /// or nil when the path is another. `resource` is the URL the client used, with PATH (§3.1).
    static func document(for record: RequestRecord, servers: [String]) -> GatewayReply? {
        let path = record.path.path
        guard path.hasPrefix(IssuerPaths.protectedResource) else { return nil }
        let suffix = path.dropFirst(IssuerPaths.protectedResource.count)
        guard suffix.isEmpty || suffix.hasPrefix("/"), let origin = origin(of: record) else { return nil }
        guard record.method == "GET" || record.method == "HEAD" else {
            return GatewayReply(status: 405, headers: [("allow", "GET, HEAD"), ("content-type", "text/plain")], body: "method not allowed\n", details: "resource_metadata")
        }
        let object: [String: Any] = [
            "resource": origin + suffix,
            "authorization_servers": servers,
            "bearer_methods_supported": ["header"],
            "resource_name": record.destination.map { "\($0.spec.name).\($0.spec.namespace)" } ?? record.host,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return GatewayReply(
            status: 200, headers: [("content-type", "application/json"), ("cache-control", "public, max-age=60")],
            body: String(decoding: data, as: UTF8.self), details: "resource_metadata")
    }

    /// `Bearer resource_metadata="…"` and the RFC 6750 parameters: the challenge of a 401.
    public static func challenge(for record: RequestRecord, error: String, description: String? = nil) -> String {
        var parameters: [String] = []
        if let origin = origin(of: record) { parameters.append("resource_metadata=\"\(origin)\(IssuerPaths.protectedResource)\"") }
        parameters.append("error=\"\(error)\"")
        if let description { parameters.append("error_description=\"\(description)\"") }
        return "Bearer " + parameters.joined(separator: ", ")
    }

    /// `scheme://authority` as the client reached Gatehouse; nil when the authority has anything a
    /// URL in a quoted header parameter must not (the listener already refused most of it).
    static func origin(of record: RequestRecord) -> String? {
        let authority = record.authority
        let safe = !authority.isEmpty && authority.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"): true
            default: false
            }
        }
        return safe ? (record.overTLS ? "https://" : "http://") + authority : nil
    }
}
