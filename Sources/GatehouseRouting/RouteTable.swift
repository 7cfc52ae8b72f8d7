import Foundation
import GatehouseCore

/// The config's VirtualServices compiled for one snapshot: for a request's host and the kind of
/// traffic it is (ingress or mesh), the HTTP routes that apply, in order. Hosts no VirtualService
/// names are left to `HostRouter`'s `NAME.NAMESPACE.<domain>` convention.
///
/// A VirtualService host that names a function (`hello`, `hello.shop`, its FQDN) stands for that
/// function's Gatehouse host (`hello.shop.<domain>`); other hosts are matched as written (`*`,
/// `*.example.com`, `api.example.com`). Exact hosts are tried before wildcards; among
/// VirtualServices for the same host, by namespace and name.
public struct RouteTable: Sendable {
    private struct Binding: Sendable {
        let pattern: String
        let ingress: Bool
        let mesh: Bool
        let routes: [CompiledRoute]
    }

    private let exact: [String: [Binding]]
    private let wildcards: [Binding]
    public let isEmpty: Bool

    public init(services: [VirtualServiceSpec], functions: [FunctionSpec], domain: String, trustDomain: String) {
        var exact: [String: [Binding]] = [:]
        var wildcards: [Binding] = []
        let domain = domain.lowercased()
        for service in services.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            let routes = service.http.enumerated().map { index, route in
                CompiledRoute(service: service, index: index, route: route, functions: functions, trustDomain: trustDomain)
            }
            for host in service.hosts {
                let pattern = functions.first { $0.isNamed(by: host, in: service.namespace) }
                    .map { "\($0.name).\($0.namespace).\(domain)" } ?? host.lowercased()
                let binding = Binding(pattern: pattern, ingress: service.appliesToIngress, mesh: service.appliesToMesh, routes: routes)
                if pattern.hasPrefix("*") { wildcards.append(binding) } else { exact[pattern, default: []].append(binding) }
            }
        }
        // `*.example.com` before `*`: the more specific wildcard first.
        wildcards.sort { $0.pattern.count > $1.pattern.count }
        self.exact = exact
        self.wildcards = wildcards
        isEmpty = exact.isEmpty && wildcards.isEmpty
    }

    /// The routes for `host` (without its port) for this kind of traffic, in the order they are tried;
    /// nil when no VirtualService covers it.
    func routes(forHost host: String, mesh: Bool) -> [CompiledRoute]? {
        let host = host.lowercased()
        var found: [CompiledRoute]?
        for binding in exact[host] ?? [] where mesh ? binding.mesh : binding.ingress {
            found = (found ?? []) + binding.routes
        }
        if found != nil { return found }
        for binding in wildcards where mesh ? binding.mesh : binding.ingress {
            let suffix = binding.pattern.dropFirst()  // "*.example.com" → ".example.com"; "*" → ""
            if suffix.isEmpty || host.hasSuffix(suffix) { found = (found ?? []) + binding.routes }
        }
        return found
    }
}

/// One `http` route, with its matches' regular expressions compiled and its destinations resolved.
struct CompiledRoute: Sendable {
    let service: String
    let index: Int
    let route: VirtualServiceSpec.HTTPRoute
    let matches: [CompiledMatch]
    let destinations: [(destination: FunctionDestination, weight: Int)]
    let totalWeight: Int
    let uriRegexRewrite: CompiledRegex?

    /// Istio's route name in logs: the route's `name`, else `VIRTUALSERVICE.INDEX`.
    var name: String { route.name ?? "\(service).\(index)" }

    init(service: VirtualServiceSpec, index: Int, route: VirtualServiceSpec.HTTPRoute, functions: [FunctionSpec], trustDomain: String) {
        self.service = service.reference
        self.index = index
        self.route = route
        matches = route.match.map(CompiledMatch.init)
        destinations = route.destinations.compactMap { target in
            functions.first { $0.isNamed(by: target.host, in: service.namespace) }
                .map { (FunctionDestination(spec: $0, trustDomain: trustDomain), target.weight) }
        }
        totalWeight = destinations.reduce(0) { $0 + $1.weight }
        uriRegexRewrite = route.rewrite?.uriRegex.flatMap { CompiledRegex($0.match, replacement: $0.rewrite) }
    }
}

/// A regular expression compiled once per snapshot (Istio's RE2 patterns are matched whole).
final class CompiledRegex: @unchecked Sendable {
    private let expression: NSRegularExpression
    private let template: String

    init?(_ pattern: String, replacement: String = "", anchored: Bool = false) {
        guard let expression = try? NSRegularExpression(pattern: anchored ? "^(?:\(pattern))$" : pattern) else { return nil }
        self.expression = expression
        // RE2 replacements name groups `\1`; NSRegularExpression's templates `$1`.
        template = replacement.replacingOccurrences(of: #"\\([0-9])"#, with: "\\$$1", options: .regularExpression)
    }

    func matches(_ text: String) -> Bool {
        expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    func replace(in text: String) -> String {
        expression.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
    }
}
