import AsyncHTTPClient
import GatehouseCore
import NIOCore
import NIOHTTP1

/// Asks a CUSTOM policy's provider (`envoyExtAuthzHttp`) about a request, as Envoy's HTTP ext_authz
/// filter does: the same method, the provider's path prefix plus the request's path, `Host`, an
/// empty body and the headers the provider asks for. 200 allows; any other status denies, and
/// that status and body go to the caller; no answer in time is an error (`statusOnError`, or
/// allowed when `failOpen`).
public struct ExternalAuthorizer: Sendable {
    /// An authorizer's denial body is passed on; larger ones are an error.
    static let maximumBodyBytes = 64 * 1024

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

    public init() {}

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
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(provider.timeout.nanosecondsClamped))
            let body = try await response.body.collect(upTo: Self.maximumBodyBytes)
            if response.status == .ok {
                return .allowed(headers: Self.pick(provider.headersToUpstreamOnAllow, from: response.headers))
            }
            return .denied(GatehouseError.PassedResponse(
                status: Int(response.status.code), headers: Self.pick(provider.headersToDownstreamOnDeny, from: response.headers),
                body: String(buffer: body)))
        } catch {
            return .failed("\(error)")
        }
    }

    private static func pick(_ names: [String], from headers: HTTPHeaders) -> [(name: String, value: String)] {
        names.flatMap { name in headers[name].map { (name, $0) } }
    }
}
