/// The cookies of the login flow: their names, how they are read from a request, written in a
/// response, and taken out of what the function receives.
///
/// - `gatehouse_session`: the sealed `SessionTicket`. HttpOnly, SameSite=Lax, host-only (no
///   `Domain`), `Path=/`, `Secure` over TLS, `Max-Age` the session's remaining lifetime.
/// - `gatehouse_login_<first 16 characters of state>`: a login in progress (`LoginState`), on the
///   callback path only, 10 minutes; one per login, so two tabs logging in do not collide.
public enum LoginCookies {
    public static let session = "gatehouse_session"
    public static let loginPrefix = "gatehouse_login_"
    public static let callbackPath = "/.gatehouse/oauth2/callback"
    public static let logoutPath = "/.gatehouse/oauth2/logout"

    public static func loginName(for state: String) -> String { loginPrefix + state.prefix(16) }

    /// Every `name=value` pair of the request's `Cookie` headers, in order.
    public static func pairs(_ header: String?) -> [(name: Substring, value: Substring)] {
        guard let header else { return [] }
        return header.split(separator: ";").compactMap { pair in
            let trimmed = pair.drop { $0 == " " || $0 == "\t" }
            guard let equals = trimmed.firstIndex(of: "=") else { return nil }
            var value = trimmed[trimmed.index(after: equals)...]
            while value.last == " " || value.last == "\t" { value = value.dropLast() }
            return (trimmed[..<equals], value)
        }
    }

    public static func value(_ name: String, in header: String?) -> Substring? {
        pairs(header).first { $0.name == name }?.value
    }

    /// The `Cookie` header without Gatehouse's own cookies; nil when none of them was there.
    public static func withoutOurs(_ header: String?) -> String?? {
        let all = pairs(header)
        let kept = all.filter { !isOurs($0.name) }
        guard kept.count != all.count else { return nil }
        return .some(kept.isEmpty ? nil : kept.map { "\($0.name)=\($0.value)" }.joined(separator: "; "))
    }

    static func isOurs(_ name: Substring) -> Bool { name == session || name.hasPrefix(loginPrefix) }

    public static func setSession(_ value: String, maxAge: Int64, secure: Bool) -> (name: String, value: String) {
        ("set-cookie", "\(session)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Lax" + (secure ? "; Secure" : ""))
    }

    public static func clearSession(secure: Bool) -> (name: String, value: String) {
        ("set-cookie", "\(session)=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : ""))
    }

    public static func setLogin(_ state: String, value: String, secure: Bool) -> (name: String, value: String) {
        ("set-cookie", "\(loginName(for: state))=\(value); Path=\(callbackPath); Max-Age=\(LoginState.lifetime); HttpOnly; SameSite=Lax" + (secure ? "; Secure" : ""))
    }

    public static func clearLogin(_ state: String, secure: Bool) -> (name: String, value: String) {
        ("set-cookie", "\(loginName(for: state))=; Path=\(callbackPath); Max-Age=0; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : ""))
    }
}
