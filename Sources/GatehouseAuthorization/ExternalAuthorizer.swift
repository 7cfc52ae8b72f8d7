import AsyncHTTPClient
import GatehouseCore
import GatehouseOutbound
import NIOCore
import NIOHTTP1

/// Asks a CUSTOM policy's provider (`envoyExtAuthzHttp`) about a request, as Envoy's HTTP ext_authz
/// filter does: the same method, the provider's path prefix plus the request's path, `Host`, an
/// empty body and the headers the provider asks for. 200 allows; a 5xx, no answer within `timeout`
/// or no connection is an error (`statusOnError`, or allowed when `failOpen`); any other status —
/// a 3xx included, which is never followed — denies, and goes to the caller with its body.
public struct ExternalAuthorizer: Sendable {
    /// The start of an authorizer's denial body that is passed on.
    static let maximumBodyBytes = 64 * 1024
    /// Never copied from an authorizer's response, whichever list names them: they frame or route
    /// the message Gatehouse writes.
    static let framingHeaders: Set<String> = [
        "host", "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "content-length", "x-request-id",
    ]
    /// Istio adds these to a non-empty `headersToDownstreamOnDeny`.
    static let alwaysToDownstreamOnDeny = ["location", "www-authenticate"]

    /// What the provider is asked about: copied out of the request before leaving its event loop.
    public struct Check: Sendable {
        public var method: String
        public var host: String
        /// The path and query the function would receive.
        public var path: String
        public var headers: [(name: String, value: String)]
    }

    public enum Outcome: Sendable {
        /// With the provider's `headersToUpstreamOnAllow` headers.
        case allowed(headers: [(name: String, value: String)])
        case denied(GatehouseError.PassedResponse)
        case failed(String)
    }

    private let client: ControlPlaneClient

    public init(client: ControlPlaneClient) {
        self.client = client
    }

    public static func check(
        for provider: ExtAuthzProvider, method: String, host: String, path: String, headers: some RequestHeaders
    ) -> Check {
        var included: [(name: String, value: String)] = []
        for name in provider.includeRequestHeadersInCheck {
            if let value = headers.joined(name) { included.append((name, value)) }
        }
        for (name, value) in provider.includeAdditionalHeadersInCheck.sorted(by: { $0.key < $1.key }) { included.append((name, value)) }
        return Check(method: method, host: host, path: path, headers: included)
    }

    public func ask(_ provider: ExtAuthzProvider, _ check: Check) async -> Outcome {
        let host = provider.service.contains(":") ? "[\(provider.service)]" : provider.service
        var request = HTTPClientRequest(url: "http://\(host):\(provider.port)\(provider.pathPrefix)\(check.path)")
        request.method = HTTPMethod(rawValue: check.method)
        for (name, value) in check.headers { request.headers.add(name: name, value: value) }
        request.headers.replaceOrAdd(name: "host", value: check.host)
        request.headers.replaceOrAdd(name: "content-length", value: "0")
        let response: ControlPlaneClient.Response
        do {
            response = try await client.execute(request, timeout: provider.timeout, maxBodyBytes: Self.maximumBodyBytes)
        } catch {
            return .failed("\(error)")
        }
        switch response.status {
        case 200:
            return .allowed(headers: Self.pick(provider.headersToUpstreamOnAllow, from: response.headers))
        case 500...:
            return .failed("the authorizer answered \(response.status)")
        default:
            let names = provider.headersToDownstreamOnDeny
            let headers = names.isEmpty
                ? response.headers.filter { !Self.framingHeaders.contains($0.name.lowercased()) }.map { ($0.name, $0.value) }
                : Self.pick(names + Self.alwaysToDownstreamOnDeny.filter { !names.contains($0) }, from: response.headers)
            return .denied(GatehouseError.PassedResponse(status: response.status, headers: headers, body: String(buffer: response.body)))
        }
    }

    private static func pick(_ names: [String], from headers: HTTPHeaders) -> [(name: String, value: String)] {
        names.filter { !framingHeaders.contains($0) }.flatMap { name in headers[name].map { (name, $0) } }
    }
}
