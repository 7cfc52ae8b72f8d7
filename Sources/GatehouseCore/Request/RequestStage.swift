/// One step of the request path before the function is invoked (hop limit, route, peer
/// authentication, JWT, authorization, rate limit). `RequestPipeline` in GatehouseGateway declares
/// their order, once; the gateway and `gatehouse explain`/`test` both run that list.
///
/// A stage reads the request and adds facts to its record; it never writes a response or a log
/// line itself. It runs on the connection's event loop, so it must not block.
public protocol RequestStage: Sendable {
    /// How explanations name it (`route`, `jwt`, …): one of `StageName`.
    var name: StageName { get }
    func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict
    /// What `explain` runs instead of `process`: the same decision on the same record, but nothing
    /// is spent (no token taken from a bucket, no external authorizer asked), with what the stage
    /// looked at. The default runs `process`, for stages that spend nothing.
    func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation
}

extension RequestStage {
    public func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation {
        StageExplanation(process(&record, headers: headers))
    }
}

/// The stages' names, in the order the pipeline runs them: `explain -o json` prints them.
public struct StageName: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The listener's checks of the request head (framing, target, `Host`) and a Gateway server's hosts.
    public static let request = StageName(rawValue: "request")
    /// Gatehouse's own documents (its JWKS, its OAuth metadata), answered on every host before routing.
    public static let wellKnown = StageName(rawValue: "well_known")
    public static let hopLimit = StageName(rawValue: "hop_limit")
    public static let route = StageName(rawValue: "route")
    public static let peerAuthentication = StageName(rawValue: "peer_authentication")
    public static let jwt = StageName(rawValue: "jwt")
    /// A LoginPolicy's session cookie, or a redirect to its provider.
    public static let login = StageName(rawValue: "login")
    public static let authorization = StageName(rawValue: "authorization")
    public static let rateLimit = StageName(rawValue: "rate_limit")
    /// `X-Gatehouse-Assertion`: the verified caller, signed for the function.
    public static let assertion = StageName(rawValue: "assertion")
}

/// What a stage decided: let the request go on, refuse it with a reason, answer it itself, or first
/// do work that cannot run on the event loop (verify a signature, fetch keys, ask an authorizer).
public enum StageVerdict: Sendable {
    case proceed
    /// A refusal: rendered once, at the edge, from the error's code (401, 403, 404, 429, …).
    case reject(GatehouseError)
    /// A response the gateway makes itself (a redirect, a direct response, a CORS preflight answer,
    /// an injected abort): not an error, and it goes through the same response phase as the function's.
    case respond(GatewayReply)
    /// The pipeline runs `work` off the loop, then — back on the request's event loop, if the
    /// client is still there — applies what it returns to the record; that decides instead.
    case suspend(@Sendable () async -> Resumption)

    public typealias Resumption = @Sendable (inout RequestRecord) -> StageVerdict
}

/// Read access to request headers, independent of the HTTP library that parsed them.
public protocol RequestHeaders {
    /// The first value of the header, matched case-insensitively.
    func first(_ name: String) -> String?
    /// Every value of the header joined with `,`, as Envoy presents repeated headers; nil when absent.
    func joined(_ name: String) -> String?
    /// Whether any of the headers named (lowercase) is present.
    func containsAny(of names: [String]) -> Bool
}

extension RequestHeaders {
    public func containsAny(of names: [String]) -> Bool { names.contains { first($0) != nil } }
}
