/// An Istio `VirtualService` (`networking.istio.io` v1 / v1beta1 / v1alpha3): how requests for its
/// `hosts` are routed — the first `http` route whose `match` fits decides.
///
/// `gateways` as in Istio: without it (or with `mesh`) the routes apply to mesh traffic (callers on
/// the mesh listener); naming a gateway makes them apply to the ingress (the plain listener and the
/// Gateway HTTPS servers — Gatehouse is one gateway, so any gateway name binds to it).
public struct VirtualServiceSpec: Hashable, Sendable {
    public var namespace: String
    public var name: String
    public var hosts: [String]
    public var gateways: [String]
    public var http: [HTTPRoute]
    public var source: SourceLocation?

    public init(namespace: String, name: String, hosts: [String] = [], gateways: [String] = [], http: [HTTPRoute] = [], source: SourceLocation? = nil) {
        self.namespace = namespace
        self.name = name
        self.hosts = hosts
        self.gateways = gateways
        self.http = http
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }

    /// Whether the routes apply to ingress traffic (a gateway is named) and to mesh traffic.
    public var appliesToIngress: Bool { gateways.contains { $0 != "mesh" } }
    public var appliesToMesh: Bool { gateways.isEmpty || gateways.contains("mesh") }

    public struct HTTPRoute: Hashable, Sendable {
        public var name: String?
        /// Any one of them; none: every request.
        public var match: [Match] = []
        public var destinations: [Destination] = []
        public var redirect: Redirect?
        public var directResponse: DirectResponse?
        public var rewrite: Rewrite?
        /// Capped by the function's own `timeout`.
        public var timeout: Duration?
        public var requestHeaders = HeaderOperations()
        public var responseHeaders = HeaderOperations()
        /// Without `retries`, Istio's default: 2 retries on connect failure (and refused streams).
        public var retries: RetryPolicy?
        public var fault: Fault?
        public var cors: CorsPolicy?
        /// `mirrors` (and the older single `mirror` with `mirrorPercentage`): a copy of each
        /// request — of `percent` of them — goes to each of these functions too; answers are dropped.
        public var mirrors: [Mirror] = []
        public var source: SourceLocation?

        public init() {}
    }

    /// Istio's `HTTPMirrorPolicy`: where copies go, and for what share of requests.
    public struct Mirror: Hashable, Sendable {
        public var destination: Destination
        public var percent: Double

        public init(destination: Destination, percent: Double = 100) {
            self.destination = destination
            self.percent = percent
        }
    }

    /// Istio's `CorsPolicy`: preflights answered by the gateway, CORS headers on responses, for
    /// allowed origins only.
    public struct CorsPolicy: Hashable, Sendable {
        public var allowOrigins: [StringMatch] = []
        public var allowMethods: [String] = []
        public var allowHeaders: [String] = []
        public var exposeHeaders: [String] = []
        public var maxAge: Duration?
        public var allowCredentials = false

        public init() {}

        /// Whether `origin` is one of `allowOrigins` (exact, prefix or regex, as Istio's).
        public func allows(origin: String, regex: (String, String) -> Bool) -> Bool {
            allowOrigins.contains { match in
                switch match {
                case .exact(let value): value == "*" || value == origin
                case .prefix(let value): origin.hasPrefix(value)
                case .regex(let pattern): regex(pattern, origin)
                }
            }
        }
    }

    /// Istio's `HTTPFaultInjection`: a delay and/or an abort, each for a percentage of requests
    /// (none when the percentage is not given, as in Istio).
    public struct Fault: Hashable, Sendable {
        public var delay: (percent: Double, duration: Duration)?
        public var abort: (percent: Double, status: Int)?

        public init() {}

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.delay?.percent == rhs.delay?.percent && lhs.delay?.duration == rhs.delay?.duration
                && lhs.abort?.percent == rhs.abort?.percent && lhs.abort?.status == rhs.abort?.status
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(delay?.percent)
            hasher.combine(delay?.duration)
            hasher.combine(abort?.percent)
            hasher.combine(abort?.status)
        }
    }

    public enum StringMatch: Hashable, Sendable, CustomStringConvertible {
        case exact(String)
        case prefix(String)
        /// RE2 syntax, matched against the whole value.
        case regex(String)

        public var description: String {
            switch self {
            case .exact(let value): "exact \"\(value)\""
            case .prefix(let value): "prefix \"\(value)\""
            case .regex(let value): "regex \"\(value)\""
            }
        }
    }

    public struct Match: Hashable, Sendable {
        public var name: String?
        public var uri: StringMatch?
        public var method: StringMatch?
        public var authority: StringMatch?
        /// Lower-case names; a header must be present and match.
        public var headers: [String: StringMatch] = [:]
        /// A header that must be absent, or not match.
        public var withoutHeaders: [String: StringMatch] = [:]
        public var queryParams: [String: StringMatch] = [:]
        public var ignoreUriCase = false
        /// The listener port the request arrived on.
        public var port: Int?
        /// `http` or `https`: how the request arrived.
        public var scheme: StringMatch?
        /// The caller's namespace, from its verified SPIFFE ID (mesh callers).
        public var sourceNamespace: String?
        /// Narrows the VirtualService's `gateways` for this block (`mesh` or a gateway name).
        public var gateways: [String] = []
        /// It has a condition Gatehouse does not check yet (`sourceLabels`): it never matches.
        public var unsupported = false

        public init() {}
    }

    public struct Destination: Hashable, Sendable {
        /// A function by Istio's host forms (`hello`, `hello.shop`, `hello.shop.svc.cluster.local`).
        public var host: String
        /// A DestinationRule subset: the revision its labels select.
        public var subset: String?
        /// Relative weight; all of one route's add up to 100 (or one destination without a weight).
        public var weight: Int

        public init(host: String, subset: String? = nil, weight: Int = 100) {
            self.host = host
            self.subset = subset
            self.weight = weight
        }
    }

    public struct Redirect: Hashable, Sendable {
        public var uri: String?
        public var authority: String?
        public var scheme: String?
        public var port: Int?
        public var code: Int = 301

        public init() {}
    }

    public struct DirectResponse: Hashable, Sendable {
        public var status: Int
        public var body: String?

        public init(status: Int, body: String? = nil) {
            self.status = status
            self.body = body
        }
    }

    public struct Rewrite: Hashable, Sendable {
        /// Replaces the matched prefix (or the whole path for other matches).
        public var uri: String?
        public var authority: String?
        /// `uriRegexRewrite`: `match` (RE2) and `rewrite` with `\1`-style groups.
        public var uriRegex: (match: String, rewrite: String)?

        public init() {}

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.uri == rhs.uri && lhs.authority == rhs.authority && lhs.uriRegex?.match == rhs.uriRegex?.match
                && lhs.uriRegex?.rewrite == rhs.uriRegex?.rewrite
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(uri)
            hasher.combine(authority)
            hasher.combine(uriRegex?.match)
            hasher.combine(uriRegex?.rewrite)
        }
    }

    /// Istio's `Headers.HeaderOperations`.
    public struct HeaderOperations: Hashable, Sendable {
        public var set: [String: String] = [:]
        public var add: [String: String] = [:]
        public var remove: [String] = []

        public init() {}

        public var isEmpty: Bool { self.set.isEmpty && add.isEmpty && remove.isEmpty }
    }
}

extension FunctionSpec {
    /// Whether Istio's `host` (as written in a resource of `namespace`) names this function: its
    /// FQDN `NAME.NS.svc.cluster.local`, `NAME.NS`, `NAME.NS.svc`, or the short `NAME` within `namespace`.
    public func isNamed(by host: String, in namespace: String) -> Bool {
        let host = host.lowercased()
        if host == serviceHost || host == "\(name).\(self.namespace)" || host == "\(name).\(self.namespace).svc" { return true }
        return host == name && namespace == self.namespace
    }
}
