import GatehouseCore

/// The first stage: Gatehouse's own documents, answered on every host before routing — its JWKS
/// (`/.well-known/jwks.json`) and its RFC 8414 metadata (`/.well-known/oauth-authorization-server`).
/// Read only (GET and HEAD; other methods 405) and cacheable for a minute. After a rotation the
/// previous key stays published (tokens it signed live a minute); a verifier that meets an unknown
/// `kid` fetches the JWKS again, as PyJWT's `PyJWKClient` and jwt-kit-based clients do.
public struct ServeIssuerDocuments: RequestStage {
    public let issuer: GatehouseIssuer
    public var name: StageName { .wellKnown }

    public init(issuer: GatehouseIssuer) {
        self.issuer = issuer
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        let path = record.path.path
        // Most requests: one prefix comparison.
        guard path.hasPrefix("/.well-known/") else { return .proceed }
        let document: String
        switch path {
        case IssuerPaths.jwks: document = issuer.keyRing?.jwksDocument ?? #"{"keys":[]}"#
        case IssuerPaths.metadata:
            guard let metadata = issuer.keyRing?.metadataDocument else {
                return .reject(GatehouseError(.overloaded, detail: "the issuer's keys are not loaded yet", retryAfter: .seconds(1)))
            }
            document = metadata
        default: return .proceed
        }
        guard record.method == "GET" || record.method == "HEAD" else {
            return .respond(GatewayReply(
                status: 405, headers: [("allow", "GET, HEAD"), ("content-type", "text/plain")], body: "method not allowed\n",
                details: "issuer_document"))
        }
        return .respond(GatewayReply(
            status: 200,
            headers: [("content-type", "application/json"), ("cache-control", "public, max-age=60")],
            body: document, details: "issuer_document"))
    }
}
