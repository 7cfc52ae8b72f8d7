import GatehouseCore

/// Istio's string matching (`IstioStringMatch`, shared with the delegation rules), plus the host
/// and path forms only AuthorizationPolicy has.
enum StringMatch {
    static func matches(_ pattern: String, _ value: String, caseInsensitive: Bool = false) -> Bool {
        IstioStringMatch.matches(pattern, value, caseInsensitive: caseInsensitive)
    }

    /// Hosts compare case-insensitively, and a pattern without a port matches the host on any port
    /// (a bracketed IPv6 literal has a port only after its `]`).
    static func matchesHost(_ pattern: String, _ host: String) -> Bool {
        if matches(pattern, host, caseInsensitive: true) { return true }
        let patternHasPort = pattern.hasPrefix("[") ? pattern.contains("]:") : pattern.contains(":")
        guard !patternHasPort, let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") else { return false }
        return matches(pattern, String(host[..<colon]), caseInsensitive: true)
    }

    /// `paths`: Istio's string forms, plus the templates `{*}` (one segment) and `{**}` (any number
    /// of segments, at least one).
    static func matchesPath(_ pattern: String, _ path: String) -> Bool {
        guard pattern.utf8.contains(UInt8(ascii: "{")) else { return matches(pattern, path) }
        let patternSegments = pattern.split(separator: "/", omittingEmptySubsequences: false)
        let pathSegments = path.split(separator: "/", omittingEmptySubsequences: false)
        return matchSegments(patternSegments[...], pathSegments[...])
    }

    private static func matchSegments(_ pattern: ArraySlice<Substring>, _ path: ArraySlice<Substring>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "{**}" {
            // One or more segments, none of them empty (as Envoy's URI template requires).
            guard !path.isEmpty else { return false }
            var split = path.index(after: path.startIndex)
            while true {
                if path[path.index(before: split)].isEmpty { return false }
                if matchSegments(pattern.dropFirst(), path[split...]) { return true }
                if split == path.endIndex { return false }
                split = path.index(after: split)
            }
        }
        guard let segment = path.first else { return false }
        if first == "{*}" {
            guard !segment.isEmpty else { return false }
        } else if !matches(String(first), String(segment)) {
            return false
        }
        return matchSegments(pattern.dropFirst(), path.dropFirst())
    }
}

