import Foundation

/// Query parameters that carry credentials, replaced by `REDACTED` in what Gatehouse writes down
/// (the access log, spans, the decision and audit logs, `gatehouse trace`); the function still gets
/// the request as sent.
public enum QueryRedaction {
    /// Redacted for every request, whatever policy applies: OAuth's and common API-key spellings
    /// (`code` and `state` are the login callback's).
    /// A RequestAuthentication's `fromParams` are redacted too (by the JWT stage).
    public static let alwaysRedacted = [
        "access_token", "id_token", "refresh_token", "token", "code", "state", "client_secret", "api_key", "apikey", "key",
        "password", "sig", "signature", "x-amz-signature", "x-goog-signature",
        // The token endpoint's (read from the body only; redacted should a client put them in the URL).
        "subject_token", "actor_token", "client_assertion",
    ]

    /// `path` with the named query parameters' values replaced; nil when it carries none.
    public static func redacting(_ names: [String], in path: String) -> String? {
        guard let mark = path.firstIndex(of: "?") else { return nil }
        var changed = false
        let pairs = path[path.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let name = String(parts[0]).removingPercentEncoding?.lowercased(), names.contains(name)
            else { return String(pair) }
            changed = true
            return parts[0] + "=REDACTED"
        }
        return changed ? path[..<mark] + "?" + pairs.joined(separator: "&") : nil
    }
}
