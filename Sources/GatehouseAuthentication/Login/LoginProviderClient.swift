import AsyncHTTPClient
import Foundation
import GatehouseCore
import GatehouseOutbound
import NIOConcurrencyHelpers
import NIOCore

/// Talks to one OIDC provider for the login flow: its discovery document (fetched once, kept;
/// fetched again after a failure), the token endpoint (code and refresh grants, the client secret
/// sent as the provider asks: HTTP Basic unless it takes only the form body), and ID token
/// verification with the same machinery as RequestAuthentication
/// (`JWTAuthenticator` over `KeyDirectory`: the provider's keys through OIDC discovery, explicit
/// algorithms, `aud` = the client id, `exp` with 60 s of skew). Calls go through the outbound
/// client: bounded bodies, no redirects, a timeout each. Nothing it handles is logged.
public final class LoginProviderClient: Sendable {
    public struct Discovery: Sendable, Hashable {
        public var authorizationEndpoint: String
        public var tokenEndpoint: String
        public var endSessionEndpoint: String?
        /// How the token endpoint wants the client secret: HTTP Basic (`client_secret_basic`, the
        /// default OpenID Connect gives when a provider says nothing) unless the provider lists
        /// only `client_secret_post`.
        public var secretInBody: Bool = false
    }

    public struct Tokens: Sendable {
        /// Always there after a code exchange; a refresh may leave it out (OIDC Core §12.2).
        public var idToken: String?
        public var refreshToken: String?
        /// The access token's `expires_in`, seconds.
        public var expiresIn: Int64?
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// A fixed reason code (`login_token_exchange_failed`, …): safe to show and log.
        public let code: String
        public let description: String
    }

    public let provider: OIDCLoginProvider
    private let secret: String
    private let client: ControlPlaneClient
    private let authenticator: JWTAuthenticator
    /// The synthetic function the provider's rule applies to (the authenticator indexes rules per function).
    private let verifierKey: FunctionKey
    private let discovered = NIOLockedValueBox<Discovery?>(nil)
    static let timeout: Duration = .seconds(10)

    public init(provider: OIDCLoginProvider, secret: String, client: ControlPlaneClient, keys: KeyDirectory) {
        self.provider = provider
        self.secret = secret
        self.client = client
        let function = FunctionSpec(name: "login-\(provider.name)", namespace: "gatehouse-login", process: .init(command: ["-"]))
        verifierKey = function.key
        authenticator = JWTAuthenticator(
            policies: [Self.rule(for: provider)], functions: [function], rootNamespace: "gatehouse-login", directory: keys)
    }

    /// The RequestAuthentication rule ID tokens are verified under (`KeyDirectory.retain` keeps its keys).
    public static func rule(for provider: OIDCLoginProvider) -> RequestAuthenticationSpec {
        RequestAuthenticationSpec(
            namespace: "gatehouse-login", name: "login-\(provider.name)",
            jwtRules: [.init(issuer: provider.issuer, audiences: [provider.clientID], timeout: timeout)])
    }

    public var cachedDiscovery: Discovery? { discovered.withLockedValue { $0 } }

    public func discovery() async throws(Failure) -> Discovery {
        if let known = cachedDiscovery { return known }
        let url = provider.issuer.trimmingSuffix("/") + "/.well-known/openid-configuration"
        let object = try await json(HTTPClientRequest(url: url), code: "login_discovery_failed")
        guard let authorization = object["authorization_endpoint"] as? String, let token = object["token_endpoint"] as? String,
              object["issuer"] as? String == provider.issuer else {
            throw Failure(code: "login_discovery_failed", description: "\(url) lacks authorization_endpoint or token_endpoint, or names another issuer")
        }
        let methods = object["token_endpoint_auth_methods_supported"] as? [String] ?? ["client_secret_basic"]
        let discovery = Discovery(
            authorizationEndpoint: authorization, tokenEndpoint: token, endSessionEndpoint: object["end_session_endpoint"] as? String,
            secretInBody: !methods.contains("client_secret_basic") && methods.contains("client_secret_post"))
        discovered.withLockedValue { $0 = discovery }
        return discovery
    }

    /// The authorization request URL (code flow, PKCE S256, state, nonce).
    public func authorizationURL(_ discovery: Discovery, login: LoginState) -> String {
        var components = URLComponents(string: discovery.authorizationEndpoint) ?? URLComponents()
        components.queryItems = (components.queryItems ?? []) + [
            URLQueryItem(name: "response_type", value: "code"),
            URLQueryItem(name: "client_id", value: provider.clientID),
            URLQueryItem(name: "redirect_uri", value: login.redirectURI),
            URLQueryItem(name: "scope", value: provider.scopes.joined(separator: " ")),
            URLQueryItem(name: "state", value: login.state),
            URLQueryItem(name: "nonce", value: login.nonce),
            URLQueryItem(name: "code_challenge", value: PKCE.challenge(for: login.verifier)),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        // `+` is a space to form decoders: spell it out.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.string ?? discovery.authorizationEndpoint
    }

    public func exchange(code: String, login: LoginState) async throws(Failure) -> Tokens {
        try await tokens([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", login.redirectURI), ("code_verifier", login.verifier),
        ], code: "login_token_exchange_failed")
    }

    public func refresh(_ refreshToken: String) async throws(Failure) -> Tokens {
        try await tokens([("grant_type", "refresh_token"), ("refresh_token", refreshToken)], code: "login_refresh_failed")
    }

    /// Verifies an ID token as RequestAuthentication verifies a bearer token, then its `nonce`.
    public func verify(idToken: String, nonce: String?) async throws(Failure) -> VerifiedJWT {
        let headers = BearerHeader(token: idToken)
        let result: Result<JWTAuthenticator.Authenticated, AuthenticationFailure>
        switch authenticator.start(function: verifierKey, headers: headers, query: nil) {
        case .anonymous: throw Failure(code: "login_id_token_invalid", description: "no ID token")
        case .finished(let finished): result = finished
        case .verify(let pending): result = await authenticator.verify(pending)
        }
        switch result {
        case .failure(let failure):
            throw Failure(code: "login_id_token_invalid", description: "the ID token was refused (\(failure.code))")
        case .success(let authenticated):
            if let nonce, authenticated.jwt.claims["nonce"] != .string(nonce) {
                throw Failure(code: "login_nonce_mismatch", description: "the ID token's nonce is not this login's")
            }
            return authenticated.jwt
        }
    }

    private func tokens(_ fields: [(String, String)], code: String) async throws(Failure) -> Tokens {
        let discovery = try await discovery()
        var request = HTTPClientRequest(url: discovery.tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "accept", value: "application/json")
        var fields = fields
        if discovery.secretInBody {
            fields += [("client_id", provider.clientID), ("client_secret", secret)]
        } else {
            // RFC 6749 §2.3.1: each part form-encoded, then Base64; never both ways at once.
            let credentials = Data("\(Self.formEncode(provider.clientID)):\(Self.formEncode(secret))".utf8).base64EncodedString()
            request.headers.add(name: "authorization", value: "Basic \(credentials)")
        }
        let form = fields.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: form))
        let object = try await json(request, code: code)
        let expiresIn = (object["expires_in"] as? Int).flatMap { $0 > 0 ? Int64($0) : nil }
        return Tokens(idToken: object["id_token"] as? String, refreshToken: object["refresh_token"] as? String, expiresIn: expiresIn)
    }

    private func json(_ request: HTTPClientRequest, code: String) async throws(Failure) -> [String: Any] {
        let response: ControlPlaneClient.Response
        do {
            response = try await client.execute(request, timeout: Self.timeout, maxBodyBytes: 1 << 20)
        } catch {
            throw Failure(code: code, description: "\(request.url): \(error)")
        }
        guard response.status == 200, !response.truncated,
              let object = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any] else {
            // The body may hold what the provider says about the code: not repeated here.
            throw Failure(code: code, description: "\(request.url) answered HTTP \(response.status)")
        }
        return object
    }

    static func formEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    private struct BearerHeader: RequestHeaders {
        let token: String
        func first(_ name: String) -> String? { name.lowercased() == "authorization" ? "Bearer \(token)" : nil }
        func joined(_ name: String) -> String? { first(name) }
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
