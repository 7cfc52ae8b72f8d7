import Foundation
import GatehouseCore

/// One `match` block: every condition given must hold (Istio's AND within a block, OR across blocks).
final class CompiledMatch: Sendable {
    let spec: VirtualServiceSpec.Match
    private let scheme: CompiledString?
    private let uri: CompiledString?
    private let method: CompiledString?
    private let authority: CompiledString?
    private let headers: [(String, CompiledString)]
    private let withoutHeaders: [(String, CompiledString)]
    private let queryParams: [(String, CompiledString)]

    init(_ spec: VirtualServiceSpec.Match) {
        self.spec = spec
        uri = spec.uri.map { CompiledString($0, ignoreCase: spec.ignoreUriCase) }
        scheme = spec.scheme.map { CompiledString($0) }
        method = spec.method.map { CompiledString($0) }
        authority = spec.authority.map { CompiledString($0) }
        headers = spec.headers.sorted { $0.key < $1.key }.map { ($0.key, CompiledString($0.value)) }
        withoutHeaders = spec.withoutHeaders.sorted { $0.key < $1.key }.map { ($0.key, CompiledString($0.value)) }
        queryParams = spec.queryParams.sorted { $0.key < $1.key }.map { ($0.key, CompiledString($0.value)) }
    }

    /// Whether the request fits: the request path's check, which builds no strings.
    func fits(_ request: RouteRequest) -> Bool {
        if spec.unsupported { return false }
        if let port = spec.port, port != request.port { return false }
        if let scheme, !scheme.matches(request.scheme) { return false }
        if let namespace = spec.sourceNamespace, namespace != request.sourceNamespace { return false }
        if !spec.gateways.isEmpty, !(request.mesh ? spec.gateways.contains("mesh") : spec.gateways.contains { $0 != "mesh" }) { return false }
        if let uri, !uri.matches(request.path) { return false }
        if let method, !method.matches(request.method) { return false }
        if let authority, !authority.matches(request.authority) { return false }
        for (name, match) in headers {
            guard let value = request.header(name), match.matches(value) else { return false }
        }
        for (name, match) in withoutHeaders {
            if let value = request.header(name), match.matches(value) { return false }
        }
        for (name, match) in queryParams {
            guard let value = request.query(name), match.matches(value) else { return false }
        }
        return true
    }

    /// nil when the request fits; otherwise the first condition it failed (for `explain`).
    func miss(_ request: RouteRequest) -> String? {
        if spec.unsupported { return "sourceLabels is not checked yet: this block never matches" }
        if let port = spec.port, port != request.port { return "port \(request.port) is not \(port)" }
        if let scheme, !scheme.matches(request.scheme) { return "scheme \(request.scheme) is not \(scheme.spec)" }
        if let namespace = spec.sourceNamespace, namespace != request.sourceNamespace {
            return "source namespace \(request.sourceNamespace ?? "none (no verified caller)") is not \(namespace)"
        }
        if !spec.gateways.isEmpty, !(request.mesh ? spec.gateways.contains("mesh") : spec.gateways.contains { $0 != "mesh" }) {
            return "\(request.mesh ? "mesh" : "ingress") traffic is not for gateways \(spec.gateways)"
        }
        if let uri, !uri.matches(request.path) { return "uri \(request.path) is not \(uri.spec)" }
        if let method, !method.matches(request.method) { return "method \(request.method) is not \(method.spec)" }
        if let authority, !authority.matches(request.authority) { return "authority \(request.authority) is not \(authority.spec)" }
        for (name, match) in headers {
            guard let value = request.header(name) else { return "header \(name) is absent" }
            if !match.matches(value) { return "header \(name) is not \(match.spec)" }
        }
        for (name, match) in withoutHeaders {
            if let value = request.header(name), match.matches(value) { return "header \(name) is \(match.spec) (withoutHeaders)" }
        }
        for (name, match) in queryParams {
            guard let value = request.query(name) else { return "query parameter \(name) is absent" }
            if !match.matches(value) { return "query parameter \(name) is not \(match.spec)" }
        }
        return nil
    }
}

/// An exact, prefix or whole-value regular expression match.
final class CompiledString: Sendable {
    let spec: VirtualServiceSpec.StringMatch
    private let ignoreCase: Bool
    private let regex: CompiledRegex?

    init(_ spec: VirtualServiceSpec.StringMatch, ignoreCase: Bool = false) {
        self.spec = spec
        self.ignoreCase = ignoreCase
        if case .regex(let pattern) = spec {
            regex = CompiledRegex(ignoreCase ? "(?i)\(pattern)" : pattern, anchored: true)
        } else {
            regex = nil
        }
    }

    func matches(_ value: String) -> Bool {
        switch spec {
        case .exact(let expected): ignoreCase ? value.lowercased() == expected.lowercased() : value.utf8.elementsEqual(expected.utf8)
        case .prefix(let prefix): ignoreCase ? value.lowercased().hasPrefix(prefix.lowercased()) : value.utf8.starts(with: prefix.utf8)
        case .regex: regex?.matches(value) ?? false
        }
    }
}

/// What routing looks at: the path without its query, the query's parameters, method, authority
/// (without port) and headers.
struct RouteRequest {
    let path: String
    let rawQuery: Substring?
    let method: String
    let authority: String
    /// The `Host` header as sent (with its port), for redirects that keep it.
    let hostHeader: String
    let header: (String) -> String?
    /// The listener port, `http`/`https`, the caller's namespace (mesh callers), and whether it is mesh traffic.
    var port = 0
    var scheme = "http"
    var sourceNamespace: String?
    var mesh = false

    init(target: String, method: String, hostHeader: String, header: @escaping (String) -> String?) {
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            rawQuery = target[target.index(after: mark)...]
        } else {
            path = target
            rawQuery = nil
        }
        self.method = method
        self.hostHeader = hostHeader
        self.authority = HostRouter.hostWithoutPort(hostHeader)
        self.header = header
    }

    /// `NS` of Istio's principal `TRUST_DOMAIN/ns/NS/sa/SA`.
    static func namespace(ofPrincipal principal: String) -> String? {
        let parts = principal.split(separator: "/")
        guard let index = parts.firstIndex(of: "ns"), index + 1 < parts.count else { return nil }
        return String(parts[index + 1])
    }

    /// The first value of a query parameter, percent-decoded.
    func query(_ name: String) -> String? {
        guard let rawQuery else { return nil }
        for pair in rawQuery.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0].removingPercentEncoding == name else { continue }
            return parts.count > 1 ? (String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[1])) : ""
        }
        return nil
    }
}
