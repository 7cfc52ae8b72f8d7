import Foundation
import GatehouseCore

/// Where a JWT was found: the rule's locations decide which rules may verify it, and
/// `forwardOriginalToken: false` removes a header-borne token before the function sees it.
public enum TokenLocation: Hashable, Sendable, CustomStringConvertible {
    case header(String)
    case param(String)
    case cookie(String)

    public var description: String {
        switch self {
        case .header(let name): "header \(name)"
        case .param(let name): "query parameter \(name)"
        case .cookie(let name): "cookie \(name)"
        }
    }
}

/// Reads tokens from a request the way Envoy's `jwt_authn` does for Istio: named headers (with
/// their prefix), query parameters and cookies; with none named, `Authorization: Bearer …` and
/// `?access_token=…`.
struct TokenLocations: Sendable {
    private let headers: [(name: String, prefix: String)]
    private let params: [String]
    private let cookies: [String]

    init(rule: RequestAuthenticationSpec.JWTRule) {
        if rule.usesDefaultLocations {
            headers = [("authorization", "Bearer ")]
            params = ["access_token"]
            cookies = []
        } else {
            headers = rule.fromHeaders.map { ($0.name.lowercased(), $0.prefix) }
            params = rule.fromParams
            cookies = rule.fromCookies
        }
    }

    var parameterNames: [String] { params }

    /// Every token this rule's locations hold in the request.
    func tokens(in request: some RequestHeaders, query: Substring?) -> [(token: String, location: TokenLocation)] {
        var found: [(String, TokenLocation)] = []
        for (name, prefix) in headers {
            // Every value of the header, as Envoy looks at them: `Authorization: Basic …` must not
            // hide a second `Authorization: Bearer …` line.
            guard let value = request.first(name) else { continue }
            if let token = Self.strip(prefix: prefix, from: value) { found.append((token, .header(name))) }
            if let all = request.joined(name), all.utf8.count != value.utf8.count {
                for other in all.split(separator: ",").dropFirst() {
                    if let token = Self.strip(prefix: prefix, from: String(other)) { found.append((token, .header(name))) }
                }
            }
        }
        if !params.isEmpty, let query {
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let name = String(parts[0]).removingPercentEncoding, params.contains(name),
                      let token = String(parts[1]).removingPercentEncoding, !token.isEmpty else { continue }
                found.append((token, .param(name)))
            }
        }
        if !cookies.isEmpty, let header = request.joined("cookie") {
            for pair in header.split(whereSeparator: { $0 == ";" || $0 == "," }) {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let name = parts[0].trimmingCharacters(in: .whitespaces)
                let token = parts[1].trimmingCharacters(in: .whitespaces)
                if cookies.contains(name), !token.isEmpty { found.append((token, .cookie(name))) }
            }
        }
        return found
    }

    /// The token after the prefix, spaces around it trimmed. The default `Bearer ` prefix is compared
    /// without case, as Envoy does. Works on bytes: a token is hundreds of ASCII bytes, and this runs
    /// on every request to a function with JWT rules.
    /// The token of an `Authorization: Bearer …` header, if any: where a delegated token is presented.
    static func bearer(in request: some RequestHeaders) -> String? {
        request.first("authorization").flatMap { strip(prefix: "Bearer ", from: $0) }
    }

    private static func strip(prefix: String, from value: String) -> String? {
        let bytes = value.utf8
        var start = bytes.startIndex
        while start != bytes.endIndex, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start = bytes.index(after: start) }
        for expected in prefix.utf8 {
            guard start != bytes.endIndex, Self.lowercased(bytes[start]) == Self.lowercased(expected) else { return nil }
            start = bytes.index(after: start)
        }
        var end = bytes.endIndex
        while start != end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start = bytes.index(after: start) }
        while start != end {
            let last = bytes.index(before: end)
            guard bytes[last] == UInt8(ascii: " ") || bytes[last] == UInt8(ascii: "\t") else { break }
            end = last
        }
        guard start != end else { return nil }
        return start == bytes.startIndex && end == bytes.endIndex ? value : String(Substring(value.utf8[start..<end]))
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}
