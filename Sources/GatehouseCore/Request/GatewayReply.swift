/// A response Gatehouse makes itself instead of asking the function: a route's redirect or direct
/// response, a CORS preflight answer, a fault injection's abort. A value a stage returns
/// (`StageVerdict.respond`), not an error: the access log shows its `details` as
/// `response_code_details`, and response-side work (a route's response headers, CORS headers)
/// runs on it as on the function's response.
public struct GatewayReply: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: String
    /// Envoy's `response_code_details` for it (`direct_response`, `cors_preflight`, …).
    public var details: String

    public init(status: Int, headers: [(name: String, value: String)] = [], body: String = "", details: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.details = details
    }
}
