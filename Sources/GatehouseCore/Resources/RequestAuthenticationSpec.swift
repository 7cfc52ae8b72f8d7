/// An Istio `RequestAuthentication` (`security.istio.io` v1 / v1beta1): which JWTs a function accepts.
///
/// Istio's semantics: a request without a token passes (with no request principal); a request
/// with a token must carry one that one of the applying rules verifies, or it is refused with 401.
/// Every `RequestAuthentication` that applies to a function contributes its rules.
public struct RequestAuthenticationSpec: Hashable, Sendable {
    public var namespace: String
    public var name: String
    /// `selector.matchLabels`; nil applies to every function in the namespace (the mesh, for the root namespace).
    public var selector: [String: String]?
    /// `targetRefs` names: functions in the policy's namespace.
    public var targetNames: [String]
    public var jwtRules: [JWTRule]
    public var source: SourceLocation?

    public init(
        namespace: String, name: String, selector: [String: String]? = nil, targetNames: [String] = [],
        jwtRules: [JWTRule] = [], source: SourceLocation? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.selector = selector
        self.targetNames = targetNames
        self.jwtRules = jwtRules
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }

    /// One issuer a function trusts, and where its tokens are found and its keys come from.
    public struct JWTRule: Hashable, Sendable {
        public var issuer: String
        /// The token's `aud` must contain one of these; empty accepts any audience (as Istio).
        public var audiences: [String]
        /// Where the issuer publishes its keys; with neither this nor `jwks`, OIDC discovery finds it.
        public var jwksURI: String?
        /// Inline JWKS JSON.
        public var jwks: String?
        /// Empty with `fromParams` and `fromCookies` also empty: `Authorization: Bearer` and `?access_token=`.
        public var fromHeaders: [HeaderLocation]
        public var fromParams: [String]
        public var fromCookies: [String]
        public var outputPayloadToHeader: String?
        public var outputClaimToHeaders: [ClaimToHeader]
        public var forwardOriginalToken: Bool
        /// How long fetching the keys (and discovery) may take.
        public var timeout: Duration

        public init(
            issuer: String, audiences: [String] = [], jwksURI: String? = nil, jwks: String? = nil,
            fromHeaders: [HeaderLocation] = [], fromParams: [String] = [], fromCookies: [String] = [],
            outputPayloadToHeader: String? = nil, outputClaimToHeaders: [ClaimToHeader] = [],
            forwardOriginalToken: Bool = false, timeout: Duration = .seconds(5)
        ) {
            self.issuer = issuer
            self.audiences = audiences
            self.jwksURI = jwksURI
            self.jwks = jwks
            self.fromHeaders = fromHeaders
            self.fromParams = fromParams
            self.fromCookies = fromCookies
            self.outputPayloadToHeader = outputPayloadToHeader
            self.outputClaimToHeaders = outputClaimToHeaders
            self.forwardOriginalToken = forwardOriginalToken
            self.timeout = timeout
        }

        /// Istio's default locations apply when no location is named.
        public var usesDefaultLocations: Bool { fromHeaders.isEmpty && fromParams.isEmpty && fromCookies.isEmpty }

        /// The headers this rule writes for the function: callers must not be able to set them.
        public var outputHeaders: [String] {
            (outputPayloadToHeader.map { [$0] } ?? []) + outputClaimToHeaders.map(\.header)
        }
    }

    public struct HeaderLocation: Hashable, Sendable {
        public var name: String
        public var prefix: String

        public init(name: String, prefix: String = "") {
            self.name = name
            self.prefix = prefix
        }
    }

    public struct ClaimToHeader: Hashable, Sendable {
        public var header: String
        public var claim: String

        public init(header: String, claim: String) {
            self.header = header
            self.claim = claim
        }
    }
}
