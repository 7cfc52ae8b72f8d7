import Foundation
import GatehouseCore

extension MeshDecoder {
    /// `extensionProviders[].oidc`: an OpenID Connect provider people log in with (LoginPolicy
    /// `provider`). `issuer` is an http(s) URL (discovery at `ISSUER/.well-known/openid-configuration`);
    /// `clientSecretFile` is resolved against the document's directory, like every file field, and
    /// must be readable now (the secret itself is read when the provider is first used, never logged).
    static func oidcProvider(_ oidc: YAMLMappingReader, name: String, directory: String) -> OIDCLoginProvider? {
        defer { oidc.reportUnknownKeys() }
        let issuerValue = oidc.required("issuer", fix: "add `issuer:`, the provider's URL (its ID tokens' `iss`)")
        let clientID = oidc.required("clientID", fix: "add `clientID:`, the client id the provider gave Gatehouse")?.string()
        let secretValue = oidc.required("clientSecretFile", fix: "add `clientSecretFile:`, a file holding the client secret")
        var valid = true
        if let issuerValue, let issuer = issuerValue.string() {
            let url = URL(string: issuer)
            let isURL = (url?.scheme == "https" || url?.scheme == "http") && url?.host != nil && url?.query == nil && url?.fragment == nil
            if !isURL {
                issuerValue.report("\"\(issuer)\" is not an http(s) URL", fix: "write the provider's issuer, e.g. https://login.example.com")
                valid = false
            }
        }
        var secretFile: String?
        if let secretValue, let text = secretValue.string() {
            let path = text.hasPrefix("/") ? text : URL(fileURLWithPath: directory).appendingPathComponent(text).standardized.path
            if FileManager.default.isReadableFile(atPath: path) {
                secretFile = path
            } else {
                secretValue.report("cannot read \(path)", fix: "write the client secret into that file (mode 0600), or give the path of one Gatehouse can read")
            }
        }
        var scopes = ["openid", "email", "profile"]
        if let field = oidc.field("scopes"), let list = field.stringList() {
            if list.contains(where: { $0.isEmpty || $0.contains(" ") }) {
                field.report("a scope is one word", fix: "write e.g. [openid, email, profile]")
            } else {
                scopes = list
            }
        }
        let admission = admissionLists(oidc)
        guard valid, let issuer = issuerValue?.string(), let clientID, !clientID.isEmpty, let secretFile, let admission else { return nil }
        return OIDCLoginProvider(
            name: name, issuer: issuer, clientID: clientID, clientSecretFile: secretFile, scopes: scopes,
            allowedDomains: admission.domains, allowedGroups: admission.groups, groupsClaim: admission.groupsClaim)
    }

    /// `allowedDomains`, `allowedGroups` and `groupsClaim`: who may log in (`LoginAdmission`). An
    /// empty list is refused rather than read as "everyone" or "no one" — leaving the field out
    /// says "everyone", and nobody writes "no one" on purpose. Nil when any of them is wrong.
    static func admissionLists(_ oidc: YAMLMappingReader) -> (domains: [String], groups: [String], groupsClaim: String)? {
        var valid = true
        func list(_ key: String, example: String, check: (String) -> String?) -> [String] {
            guard let field = oidc.field(key) else { return [] }
            guard let items = field.stringList() else { valid = false; return [] }
            if items.isEmpty {
                field.report("an empty list lets nobody log in", fix: "list at least one, e.g. [\(example)], or remove `\(key)` to let everyone the provider knows in")
                valid = false
            }
            for item in items {
                if let problem = check(item) {
                    field.report("\"\(item)\" \(problem)", fix: "write e.g. [\(example)]")
                    valid = false
                }
            }
            return items
        }
        let domains = list("allowedDomains", example: "example.com") { domain in
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
            let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
            guard domain.allSatisfy(allowed.contains), labels.count >= 2, !labels.contains(where: \.isEmpty) else {
                return "is not a domain name (no `@`, wildcard, scheme or leading dot: an email's domain is compared exactly)"
            }
            return nil
        }
        let groups = list("allowedGroups", example: "engineering") { $0.isEmpty ? "is empty" : nil }
        var groupsClaim = "groups"
        if let field = oidc.field("groupsClaim"), let claim = field.string() {
            if claim.isEmpty || claim.contains(where: \.isWhitespace) {
                field.report("must be a claim name", fix: "write the ID token claim that lists the person's groups, e.g. groups (the default)")
                valid = false
            } else if oidc.field("allowedGroups") == nil {
                field.report("is read only to check `allowedGroups`", fix: "add `allowedGroups: [GROUP, ...]`, or remove `groupsClaim`")
                valid = false
            } else {
                groupsClaim = claim
            }
        }
        return valid ? (domains, groups, groupsClaim) : nil
    }
}
