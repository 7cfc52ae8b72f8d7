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
        guard valid, let issuer = issuerValue?.string(), let clientID, !clientID.isEmpty, let secretFile else { return nil }
        return OIDCLoginProvider(name: name, issuer: issuer, clientID: clientID, clientSecretFile: secretFile, scopes: scopes)
    }
}
