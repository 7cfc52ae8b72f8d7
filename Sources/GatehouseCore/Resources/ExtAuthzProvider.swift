/// An external HTTP authorizer declared in `Mesh.extensionProviders`, Istio's `envoyExtAuthzHttp`:
/// CUSTOM AuthorizationPolicies name it, and it decides the requests they match.
public struct ExtAuthzProvider: Hashable, Sendable {
    public var name: String
    /// The authorizer's host name or address (Istio names a Kubernetes service here).
    public var service: String
    public var port: Int
    /// Prepended to the request's path in the check request.
    public var pathPrefix: String
    public var timeout: Duration
    /// Allow the request when the authorizer cannot be reached or does not answer in time.
    public var failOpen: Bool
    /// The status sent to the caller when the authorizer fails (and `failOpen` is false).
    public var statusOnError: Int
    /// Request headers sent to the authorizer besides `Host`, the method, the path and `Content-Length`.
    public var includeRequestHeadersInCheck: [String]
    public var includeAdditionalHeadersInCheck: [String: String]
    /// Authorizer response headers copied to the function's request when it allows.
    public var headersToUpstreamOnAllow: [String]
    /// Authorizer response headers copied to the caller's response when it denies.
    public var headersToDownstreamOnDeny: [String]

    public init(
        name: String, service: String, port: Int, pathPrefix: String = "", timeout: Duration = .seconds(600),
        failOpen: Bool = false, statusOnError: Int = 403, includeRequestHeadersInCheck: [String] = [],
        includeAdditionalHeadersInCheck: [String: String] = [:], headersToUpstreamOnAllow: [String] = [],
        headersToDownstreamOnDeny: [String] = []
    ) {
        self.name = name
        self.service = service
        self.port = port
        self.pathPrefix = pathPrefix
        self.timeout = timeout
        self.failOpen = failOpen
        self.statusOnError = statusOnError
        self.includeRequestHeadersInCheck = includeRequestHeadersInCheck
        self.includeAdditionalHeadersInCheck = includeAdditionalHeadersInCheck
        self.headersToUpstreamOnAllow = headersToUpstreamOnAllow
        self.headersToDownstreamOnDeny = headersToDownstreamOnDeny
    }
}
