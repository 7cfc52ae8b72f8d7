import GatehouseCore

/// Whether a person the provider vouched for may use the functions behind it: the provider's
/// `allowedDomains` (the domain of the `email` claim, unless `email_verified` is false) and
/// `allowedGroups` (any of them in `groupsClaim`); both must hold when both are set. Checked at the
/// callback before any session exists, and on every request of a session, so narrowing the lists
/// also shuts out people already logged in. A few string comparisons, no I/O.
public enum LoginAdmission {
    public enum Verdict: Sendable, Hashable {
        case admitted
        /// `reason` is a fixed code the caller may see (`login_domain_not_allowed`,
        /// `login_group_not_allowed`); `detail` is for the decision and audit records only.
        case refused(reason: String, detail: String)
    }

    public static func check(_ identity: VerifiedJWT, against provider: OIDCLoginProvider) -> Verdict {
        if !provider.allowedDomains.isEmpty {
            switch emailDomain(identity) {
            case .failure(let why): return .refused(reason: "login_domain_not_allowed", detail: why.description)
            case .success(let domain) where !provider.allowedDomains.contains(domain):
                return .refused(reason: "login_domain_not_allowed", detail: "email domain \(domain) is not in allowedDomains")
            case .success: break
            }
        }
        if !provider.allowedGroups.isEmpty {
            let groups = identity.claims[provider.groupsClaim]?.strings ?? []
            if !groups.contains(where: provider.allowedGroups.contains) {
                let detail = groups.isEmpty
                    ? "no groups in claim `\(provider.groupsClaim)`"
                    : "none of the \(groups.count) groups in claim `\(provider.groupsClaim)` is in allowedGroups"
                return .refused(reason: "login_group_not_allowed", detail: detail)
            }
        }
        return .admitted
    }

    struct Unusable: Error {
        let description: String
    }

    /// The lower-case domain of a usable `email`: exactly one `@` (anything else is refused rather
    /// than guessed at), and not marked unverified — an address the provider did not check could
    /// name any domain.
    static func emailDomain(_ identity: VerifiedJWT) -> Result<String, Unusable> {
        guard case .string(let email)? = identity.claims["email"] else { return .failure(Unusable(description: "no `email` claim")) }
        if case .string(let verified)? = identity.claims["email_verified"], verified.lowercased() == "false" {
            return .failure(Unusable(description: "`email_verified` is false"))
        }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            return .failure(Unusable(description: "`email` is not one address"))
        }
        return .success(parts[1].lowercased())
    }
}
