import Foundation
import GatehouseCore

/// Decodes an Istio `RequestAuthentication` spec with Istio's validation: an issuer in every rule,
/// `jwksUri` an http(s) URL, inline `jwks` a JSON key set, header names that are HTTP tokens.
enum RequestAuthenticationDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> RequestAuthenticationSpec {
        var policy = RequestAuthenticationSpec(namespace: envelope.namespace, name: envelope.name, source: envelope.location)
        guard let spec = envelope.root.field("spec")?.mapping() else { return policy }
        defer { spec.reportUnknownKeys() }
        (policy.selector, policy.targetNames) = PolicyScopeDecoder.decode(spec)
        for value in spec.field("jwtRules")?.sequence() ?? [] {
            if let rule = decodeRule(value) { policy.jwtRules.append(rule) }
        }
        return policy
    }

    private static func decodeRule(_ value: YAMLValue) -> RequestAuthenticationSpec.JWTRule? {
        guard let mapping = value.mapping() else { return nil }
        defer { mapping.reportUnknownKeys() }
        guard let issuerValue = mapping.required("issuer", fix: "add `issuer:` with the `iss` your tokens carry, e.g. https://accounts.example.com"),
              let issuer = issuerValue.string() else { return nil }
        if issuer.isEmpty { issuerValue.report("must not be empty", fix: "write the `iss` your tokens carry") }
        var rule = RequestAuthenticationSpec.JWTRule(issuer: issuer)
        rule.audiences = mapping.field("audiences")?.stringList() ?? []
        if let field = mapping.field("jwksUri"), let uri = field.string() {
            if let url = URL(string: uri), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil {
                rule.jwksURI = uri
            } else {
                field.report("\"\(uri)\" is not an http or https URL", fix: "write the URL of the issuer's JWKS, e.g. https://issuer.example.com/.well-known/jwks.json")
            }
        }
        if let field = mapping.field("jwks"), let text = field.string() {
            let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            if object?["keys"] is [Any] {
                rule.jwks = text
            } else {
                field.report("is not a JSON Web Key Set (a JSON object with a `keys` list)", fix: "paste the issuer's JWKS document, e.g. {\"keys\": [{\"kty\": \"RSA\", …}]}")
            }
        }
        if rule.jwks != nil, rule.jwksURI != nil {
            mapping.diagnostics.report(
                at: mapping.location, field: mapping.fieldPath("jwks"), "`jwks` and `jwksUri` cannot both be set",
                fix: "keep one: inline keys or the URL they are fetched from")
        }
        if rule.jwks == nil, rule.jwksURI == nil, mapping.field("jwks") == nil, mapping.field("jwksUri") == nil {
            let url = URL(string: issuer)
            if !["http", "https"].contains(url?.scheme?.lowercased() ?? "") || url?.host == nil {
                issuerValue.report(
                    "issuer \"\(issuer)\" is not an http(s) URL, so its keys cannot be found by OIDC discovery",
                    fix: "add `jwksUri:` (where the keys are published) or `jwks:` (the keys inline)")
            }
        }
        for entry in mapping.field("fromHeaders")?.sequence() ?? [] {
            guard let header = entry.mapping() else { continue }
            defer { header.reportUnknownKeys() }
            guard let nameValue = header.required("name", fix: "add `name:`, e.g. `name: x-jwt-assertion`"),
                  let name = checkedHeaderName(nameValue) else { continue }
            rule.fromHeaders.append(.init(name: name, prefix: header.field("prefix")?.string() ?? ""))
        }
        rule.fromParams = mapping.field("fromParams")?.stringList() ?? []
        rule.fromCookies = mapping.field("fromCookies")?.stringList() ?? []
        if let field = mapping.field("outputPayloadToHeader") { rule.outputPayloadToHeader = checkedHeaderName(field) }
        for entry in mapping.field("outputClaimToHeaders")?.sequence() ?? [] {
            guard let pair = entry.mapping() else { continue }
            defer { pair.reportUnknownKeys() }
            let header = pair.required("header", fix: "add `header:`, the header the function reads").flatMap(checkedHeaderName)
            let claim = pair.required("claim", fix: "add `claim:`, the claim to copy, e.g. sub").flatMap { $0.string() }
            if let header, let claim { rule.outputClaimToHeaders.append(.init(header: header, claim: claim)) }
        }
        if let field = mapping.field("forwardOriginalToken"), let forward = field.bool() { rule.forwardOriginalToken = forward }
        if let timeout = mapping.field("timeout")?.positiveDuration() { rule.timeout = timeout }
        return rule
    }

    /// An HTTP field name (RFC 9110 token), in lower case as it is compared.
    private static func checkedHeaderName(_ value: YAMLValue) -> String? {
        guard let name = value.string() else { return nil }
        let allowed = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        guard !name.isEmpty, name.allSatisfy(allowed.contains) else {
            value.report("\"\(name)\" is not a valid HTTP header name", fix: "use letters, digits and `-`, e.g. x-jwt-payload")
            return nil
        }
        return name.lowercased()
    }
}
