/// Istio's rules for `paths`/`notPaths` of an AuthorizationPolicy (`CheckValidPathTemplate` in
/// istio `pkg/config/security`), checked at load so a template is never matched in a way Istio
/// (and Envoy's URI template matcher it translates to) would not.
///
/// With the slashes at either end trimmed, a path's segments are read in order:
/// - `{*}` (one segment) and `{**}` (one or more) are operators, and nothing may follow a `{**}`
///   as an operator: `{**}` is the last operator (literal segments after it are allowed, as in
///   Istio: `/a/{**}/b`).
/// - any other segment holding `{` or `}` is refused, template or not (`/a{*}`, `/{*}.txt`,
///   `/{name}`, `/{}`, `/{x=*}`, an unbalanced `{`).
/// - in a path that uses an operator, every other segment is a non-empty RFC 3986 `pchar`
///   literal: no `*` glob, no `?`, no empty segment (`/a//{*}`).
enum PathTemplateRules {
    static let matchOne = "{*}"
    static let matchAny = "{**}"

    /// Why Istio refuses `path`, with a fix; nil when it is accepted.
    static func problem(in path: String) -> (message: String, fix: String)? {
        let usesOperator = path.contains(matchOne) || path.contains(matchAny)
        let trimmed = path.drop { $0 == "/" }.reversed().drop { $0 == "/" }.reversed()
        var seenMatchAny = false
        for segment in String(trimmed).split(separator: "/", omittingEmptySubsequences: false) {
            if segment == matchOne || segment == matchAny {
                if seenMatchAny {
                    return ("`{**}` must be the last operator in \"\(path)\"",
                            "end the template at `{**}`, or use `{*}` for the earlier segment")
                }
                seenMatchAny = segment == matchAny
                continue
            }
            if segment.contains(where: { $0 == "{" || $0 == "}" }) {
                return ("\"\(path)\" has `{` or `}` outside a whole-segment `{*}` or `{**}`",
                        "use `{*}` or `{**}` as a whole path segment (no text beside it, no named variables)")
            }
            if usesOperator, segment.isEmpty || !segment.unicodeScalars.allSatisfy(isLiteral) {
                return ("segment \"\(segment)\" of template \"\(path)\" is not a plain literal (no `*` globs, `?` or empty segments beside `{*}`/`{**}`)",
                        "write literal segments around `{*}`/`{**}`, or use a prefix/suffix `*` without templates")
            }
        }
        return nil
    }

    /// RFC 3986 `pchar` without `*`: unreserved, `%`, the sub-delimiters but `*`, `:` and `@`.
    private static func isLiteral(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9": true
        default: "-._~%!$&'()+,;:@=".unicodeScalars.contains(scalar)
        }
    }
}
