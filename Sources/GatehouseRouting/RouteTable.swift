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
    /// One host's routes, merged across VirtualServices in order, per kind of traffic.
    private struct HostRoutes: Sendable {
        var ingress: [CompiledRoute] = []
        var mesh: [CompiledRoute] = []
        var hasIngress = false
        var hasMesh = false
        /// The VirtualServices naming the host, and which traffic each binds to: for `explain`.
        var services: [(reference: String, ingress: Bool, mesh: Bool)] = []

        mutating func add(_ routes: [CompiledRoute], service: VirtualServiceSpec) {
            if service.appliesToIngress { ingress += routes; hasIngress = true }
            if service.appliesToMesh { mesh += routes; hasMesh = true }
            services.append((service.reference, service.appliesToIngress, service.appliesToMesh))
        }

        func routes(mesh isMesh: Bool) -> [CompiledRoute]? {
            isMesh ? (hasMesh ? mesh : nil) : (hasIngress ? ingress : nil)
        }
    }

    private let exact: [String: HostRoutes]
    /// `*.example.com` (as the suffix `.example.com`) before `*` (the empty suffix).
    private let wildcards: [(suffix: String, routes: HostRoutes)]
    public let isEmpty: Bool

    /// A destination naming a function goes by its traffic split; one naming a subset, to the
    /// subset's revision.
    public init(services: [VirtualServiceSpec], functions: [FunctionSpec], targets: RevisionTargets, domain: String) {
        var exact: [String: HostRoutes] = [:]
        var wildcards: [String: HostRoutes] = [:]
        let domain = domain.lowercased()
        for service in services.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            let routes = service.http.enumerated().map { index, route in
                CompiledRoute(service: service, index: index, route: route, functions: functions, targets: targets)
            }
            for host in service.hosts {
                let pattern = functions.first { $0.isNamed(by: host, in: service.namespace) }
                    .map { "\($0.name).\($0.namespace).\(domain)" } ?? host.lowercased()
                if pattern.hasPrefix("*") {
                    wildcards[String(pattern.dropFirst()), default: HostRoutes()].add(routes, service: service)
                } else {
                    exact[pattern, default: HostRoutes()].add(routes, service: service)
                }
            }
        }
        self.exact = exact
        self.wildcards = wildcards.sorted { $0.key.count > $1.key.count }.map { ($0.key, $0.value) }
        isEmpty = exact.isEmpty && wildcards.isEmpty
    }

    /// VirtualServices that name `host` but do not bind to this kind of traffic (`gateways`): a
    /// request that "skips" a route is most often this. For `explain` and `validate`.
    public func servicesBoundElsewhere(host: String, mesh: Bool) -> [String] {
        let lowered = host.lowercased()
        var found: [HostRoutes] = []
        if let routes = exact[lowered] { found.append(routes) }
        for (suffix, routes) in wildcards where suffix.isEmpty || lowered.hasSuffix(suffix) { found.append(routes) }
        return found.flatMap(\.services).filter { mesh ? !$0.mesh : !$0.ingress }.map(\.reference)
    }

    /// The routes for `host` (without its port) for this kind of traffic, in the order they are tried;
    /// nil when no VirtualService covers it. Costs a dictionary probe, no copy.
    func routes(forHost host: String, mesh: Bool) -> [CompiledRoute]? {
        if let found = exact[host]?.routes(mesh: mesh) { return found }
        // Lower-casing allocates: only for a host that has capitals.
        let lowered = host.utf8.contains(where: { (65...90).contains($0) }) ? host.lowercased() : host
        if lowered != host, let found = exact[lowered]?.routes(mesh: mesh) { return found }
        for (suffix, routes) in wildcards where suffix.isEmpty || lowered.hasSuffix(suffix) {
            if let found = routes.routes(mesh: mesh) { return found }
        }
        return nil
    }
}

/// One `http` route, with its matches' regular expressions compiled and its destinations resolved.
final class CompiledRoute: Sendable {
    let service: String
    let index: Int
    let route: VirtualServiceSpec.HTTPRoute
    let matches: [CompiledMatch]
    /// Each destination's revisions (a function's split, or a subset's revision), its weight, and
    /// how explain names it.
    let destinations: [(split: TrafficSplit, weight: Int, label: String)]
    let totalWeight: Int
    let uriRegexRewrite: CompiledRegex?
    let mirrors: [(split: TrafficSplit, percent: Double)]
    /// `corsPolicy.allowOrigins` regexes, compiled.
    let corsOriginRegexes: [String: CompiledRegex]

    /// Istio's route name in logs: the route's `name`, else `VIRTUALSERVICE.INDEX`.
    var name: String { route.name ?? "\(service).\(index)" }

    init(service: VirtualServiceSpec, index: Int, route: VirtualServiceSpec.HTTPRoute, functions: [FunctionSpec], targets: RevisionTargets) {
        self.service = service.reference
        self.index = index
        self.route = route
        matches = route.match.map(CompiledMatch.init)
        func split(_ target: VirtualServiceSpec.Destination) -> (TrafficSplit, String)? {
            guard let function = functions.first(where: { $0.isNamed(by: target.host, in: service.namespace) }),
                  let split = targets.split(for: function.key, subset: target.subset) else { return nil }
            return (split, "\(function.key)" + (target.subset.map { " subset \($0)" } ?? ""))
        }
        destinations = route.destinations.compactMap { target in split(target).map { ($0.0, target.weight, $0.1) } }
        totalWeight = destinations.reduce(0) { $0 + $1.weight }
        uriRegexRewrite = route.rewrite?.uriRegex.flatMap { CompiledRegex($0.match, replacement: $0.rewrite) }
        mirrors = route.mirrors.compactMap { mirror in split(mirror.destination).map { ($0.0, mirror.percent) } }
        var regexes: [String: CompiledRegex] = [:]
        for case .regex(let pattern) in route.cors?.allowOrigins ?? [] { regexes[pattern] = CompiledRegex(pattern, anchored: true) }
        corsOriginRegexes = regexes
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
