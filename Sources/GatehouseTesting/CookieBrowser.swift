import AsyncHTTPClient
import Foundation
import NIOHTTP1

/// A browser for login tests: keeps cookies as a browser does (host-only, by path, `Max-Age=0`
/// removes) and never follows a redirect by itself, so a test takes and checks every hop.
/// Hosts under `.localhost` are sent to the Gatehouse ingress (as browsers resolve `*.localhost`
/// to loopback), with the URL's host in `Host`; any other URL is fetched as it is.
public final class CookieBrowser: @unchecked Sendable {
    /// `http://127.0.0.1:PORT`: where `*.localhost` goes; set it again after a restart.
    public var ingress: String
    /// Host → cookie name → (value, path).
    public private(set) var jar: [String: [String: (value: String, path: String)]] = [:]

    public init(ingress: String) {
        self.ingress = ingress
    }

    /// A page load: `Accept: text/html`, the host's cookies for the path; Set-Cookie kept.
    public func get(_ url: String, accept: String = "text/html,application/xhtml+xml") async throws -> RunningGatehouse.Response {
        try await send(url, method: .GET, headers: [("accept", accept)], body: nil)
    }

    /// A form submission (`application/x-www-form-urlencoded`).
    public func post(_ url: String, form: String) async throws -> RunningGatehouse.Response {
        try await send(url, method: .POST, headers: [("accept", "text/html"), ("content-type", "application/x-www-form-urlencoded")], body: Array(form.utf8))
    }

    public func send(_ url: String, method: HTTPMethod, headers: [(String, String)], body: [UInt8]?) async throws -> RunningGatehouse.Response {
        guard let components = URLComponents(string: url), let host = components.host else { throw URLError(.badURL) }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let target = path + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        var headers = headers
        let cookies = (jar[host] ?? [:]).filter { path.hasPrefix($0.value.path) }.map { "\($0.key)=\($0.value.value)" }.sorted()
        if !cookies.isEmpty { headers.append(("cookie", cookies.joined(separator: "; "))) }
        let response: RunningGatehouse.Response
        if host.hasSuffix(".localhost") {
            response = try await RunningGatehouse.send(url: ingress + target, host: host, method: method, headers: headers, body: body)
        } else {
            response = try await RunningGatehouse.send(url: url, host: nil, method: method, headers: headers, body: body)
        }
        for header in response.headers["set-cookie"] { keep(header, host: host) }
        return response
    }

    /// A cookie's value on `host`, or nil.
    public func cookie(_ name: String, host: String) -> String? { jar[host]?[name]?.value }

    /// Sets (or, with nil, removes) a cookie by hand: what a tampering or replaying client does.
    public func setCookie(_ name: String, value: String?, host: String, path: String = "/") {
        jar[host, default: [:]][name] = value.map { ($0, path) }
    }

    private func keep(_ header: String, host: String) {
        let parts = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let pair = parts.first, let equals = pair.firstIndex(of: "=") else { return }
        let name = String(pair[..<equals])
        let value = String(pair[pair.index(after: equals)...])
        let attributes = parts.dropFirst().map { $0.lowercased() }
        let path = parts.dropFirst().first { $0.lowercased().hasPrefix("path=") }.map { String($0.dropFirst(5)) } ?? "/"
        if attributes.contains("max-age=0") {
            jar[host]?[name] = nil
        } else {
            jar[host, default: [:]][name] = (value, path)
        }
    }
}
