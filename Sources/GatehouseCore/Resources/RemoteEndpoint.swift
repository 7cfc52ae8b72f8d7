import Foundation

/// A remote function's `spec.remote.url`: an existing HTTP(S) endpoint (a Cloud Function, a Cloud
/// Run service, any server) that the gateway calls instead of running a process.
///
/// A request for `/p?q` goes to `URL_PATH/p?q` on it, with `Host` set to the URL's authority (as a
/// Cloud Function needs; the caller's host is kept in `X-Forwarded-Host`).
public struct RemoteEndpoint: Hashable, Sendable {
    public var url: String
    /// `https`: TLS, server verified unless a DestinationRule says otherwise.
    public var secure: Bool
    /// As written in the URL, without IPv6 brackets.
    public var host: String
    public var port: Int
    /// The URL's path without its trailing slash; "" for none.
    public var pathPrefix: String

    /// Parses `url`; the error says what is wrong with it, for the config diagnostic.
    public static func parse(_ url: String) -> Result<RemoteEndpoint, RemoteURLProblem> {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            return .failure(.init("\"\(url)\" is not a URL"))
        }
        guard scheme == "https" || scheme == "http" else {
            return .failure(.init("scheme \"\(scheme)\" is not supported; use https (or http)"))
        }
        guard let host = components.host, !host.isEmpty else { return .failure(.init("the URL names no host")) }
        guard components.user == nil, components.password == nil else {
            return .failure(.init("credentials in the URL would be logged and stored; use a DestinationRule with client certificates, or the function's own auth"))
        }
        guard components.query == nil, components.fragment == nil else {
            return .failure(.init("the URL may not have a query or fragment"))
        }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { return .failure(.init("port \(port) is out of range")) }
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return .success(RemoteEndpoint(url: url, secure: scheme == "https", host: bare, port: port, pathPrefix: path))
    }

    /// `Host` for requests to it: the host, and the port when it is not the scheme's default.
    public var authority: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// Whether `host` is an IP address (no SNI is sent for one; its certificate must name the address).
    public var hostIsAddress: Bool {
        host.contains(":") || host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    /// The request target on the remote: its path prefix, then the request's own target.
    /// The request's path is normalized first (dot segments resolved), so `/../other` cannot climb
    /// out of the prefix to another endpoint of the same host (nor reach the remote unresolved).
    public func target(for requestTarget: String) -> String {
        if requestTarget == "*" { return pathPrefix.isEmpty ? "*" : pathPrefix }  // OPTIONS *
        let (path, query) = PathNormalization.split(requestTarget)
        let normalized = PathNormalization.normalize(path.hasPrefix("/") ? path : "/" + path)
        return pathPrefix + normalized + query
    }
}

public struct RemoteURLProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
