import Foundation
import GatehouseCore

/// Who an assertion says is calling, and for which function: everything that goes into its claims
/// besides the times. Also the key of the assertion cache, so two requests of the same caller to
/// the same function share one signed token, and a change of any claim gets a new one.
public struct AssertionSubject: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// An end user: a JWT RequestAuthentication verified, or a login session.
        case user
        /// A mesh workload: the SPIFFE ID its SVID proved over mutual TLS.
        case workload
    }

    /// `aud`: the function's service host, `NAME.NAMESPACE.svc.cluster.local`.
    public var audience: String
    /// `sub`: a user's request principal (`ISSUER/SUBJECT`), or a workload's SPIFFE ID.
    public var subject: String
    public var kind: Kind
    public var email: String?
    public var groups: [String]?
    /// The verified token's `act` (RFC 8693 delegation chain), as it was.
    public var actor: ClaimValue?
    /// A user's: the issuer that vouched for them (`subject_issuer`), so a token exchanged from
    /// this assertion is accepted only where that issuer is trusted.
    public var subjectIssuer: String?
    /// A user's scopes (space-separated), so an exchange from this assertion can only narrow them.
    public var scope: String?

    public init(
        audience: String, subject: String, kind: Kind, email: String? = nil, groups: [String]? = nil, actor: ClaimValue? = nil,
        subjectIssuer: String? = nil, scope: String? = nil
    ) {
        self.audience = audience
        self.subject = subject
        self.kind = kind
        self.email = email
        self.groups = groups
        self.actor = actor
        self.subjectIssuer = subjectIssuer
        self.scope = scope
    }

    /// The verified caller of a routed request: its end user when it has one (a user reached the
    /// function, whichever workload relayed it), else its mesh peer; nil for an anonymous caller or
    /// a partner mesh's certificate (verified, but no identity of this mesh).
    public init?(record: RequestRecord) {
        guard let destination = record.destination else { return nil }
        if let jwt = record.jwt {
            var groups: [String]?
            if let claim = jwt.claims["groups"] { groups = claim.strings }
            var email: String?
            if case .string(let value) = jwt.claims["email"] { email = value }
            var actor: ClaimValue?
            if case .object = jwt.claims["act"] { actor = jwt.claims["act"] }
            // A delegated token names the issuer that vouched for the person; any other token is that issuer.
            var subjectIssuer = jwt.issuer
            if jwt.delegatedPrincipal != nil, case .string(let original) = jwt.claims["subject_issuer"] { subjectIssuer = original }
            let scope: String? = switch jwt.claims["scope"] {
            case .string(let text): text
            default: jwt.claims["scp"].map { $0.strings.joined(separator: " ") }
            }
            self.init(
                audience: destination.serviceHost, subject: jwt.principal, kind: .user, email: email, groups: groups, actor: actor,
                subjectIssuer: subjectIssuer, scope: scope)
        } else if let peer = record.peer, peer.principal != nil {
            self.init(audience: destination.serviceHost, subject: peer.uri, kind: .workload)
        } else {
            return nil
        }
    }
}

extension AssertionSubject {
    /// As `NodeHop.subjectHeader` carries it to another node: base64 of its JSON.
    public var hopHeaderValue: String? {
        (try? JSONEncoder().encode(self))?.base64EncodedString()
    }

    /// The subject another node sent; nil when the value is not one.
    public init?(hopHeaderValue: String) {
        guard let data = Data(base64Encoded: hopHeaderValue), let subject = try? JSONDecoder().decode(Self.self, from: data) else { return nil }
        self = subject
    }
}
