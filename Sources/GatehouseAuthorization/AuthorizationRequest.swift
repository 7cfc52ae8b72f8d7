import GatehouseCore

/// What a policy can look at: the request's attributes as Istio names them.
///
/// Built only for requests to a function that some policy applies to, so requests to
/// unprotected functions pay nothing for it.
public struct AuthorizationRequest: Sendable {
    public var method: String
    /// The `Host` header (`:authority`).
    public var host: String
    /// Normalized, without the query string.
    public var path: String
    /// The port the request arrived on.
    public var destinationPort: Int
    public var destinationIP: String?
    /// The direct peer's address.
    public var sourceIP: String?
    /// The original client's address: the same as `sourceIP` until trusted proxies are configured.
    public var remoteIP: String?
    /// The peer's verified workload identity, `TRUST_DOMAIN/ns/NS/sa/SA`; nil over plaintext and
    /// for a certificate outside the mesh's trust domains (see `PeerIdentity`).
    public var sourcePrincipal: String?
    /// The verified client certificate's URI SAN (`spiffe://partner.example/ns/a/sa/b`), mesh or
    /// external: `connection.uri_san_peer_certificate`, as Envoy names it.
    public var peerCertificateURI: String?
    /// `iss/sub` of a verified JWT; nil without one.
    public var requestPrincipal: String?
    public var audiences: [String]
    public var presenter: String?
    public var claims: [String: ClaimValue]
    public var sni: String?
    /// Header names in lower case; repeated headers joined with `,` as Envoy does.
    public var headers: [String: String]

    public init(
        method: String, host: String, path: String, destinationPort: Int, destinationIP: String? = nil,
        sourceIP: String? = nil, remoteIP: String? = nil, sourcePrincipal: String? = nil,
        requestPrincipal: String? = nil, audiences: [String] = [], presenter: String? = nil,
        claims: [String: ClaimValue] = [:], sni: String? = nil, headers: [String: String] = [:],
        peerCertificateURI: String? = nil
    ) {
        self.method = method
        self.host = host
        self.path = path
        self.destinationPort = destinationPort
        self.destinationIP = destinationIP
        self.sourceIP = sourceIP
        self.remoteIP = remoteIP ?? sourceIP
        self.sourcePrincipal = sourcePrincipal
        self.requestPrincipal = requestPrincipal
        self.audiences = audiences
        self.presenter = presenter
        self.claims = claims
        self.sni = sni
        self.headers = headers
        self.peerCertificateURI = peerCertificateURI
    }

    /// `NS` of a source principal `TD/ns/NS/sa/SA`.
    var sourceNamespace: String? { principalPart(after: "ns") }
    /// `NS/SA` of a source principal, the form `serviceAccounts` matches.
    var sourceServiceAccount: String? {
        guard let namespace = sourceNamespace, let account = principalPart(after: "sa") else { return nil }
        return "\(namespace)/\(account)"
    }

    private func principalPart(after marker: String) -> String? {
        guard let parts = sourcePrincipal?.split(separator: "/"), let index = parts.firstIndex(of: Substring(marker)),
              index + 1 < parts.count else { return nil }
        return String(parts[index + 1])
    }
}
