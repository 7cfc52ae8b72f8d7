/// One step of the request path before the function is invoked (authenticate, authorize, route,
/// protect). `RequestPipeline` in GatehouseGateway declares their order, once.
///
/// A stage reads the request and adds facts to its record; it never writes a response or a log
/// line itself. It runs on the connection's event loop, so it must not block.
public protocol RequestStage: Sendable {
    func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict
}

/// What a stage decided: let the request go on, refuse it with a reason, or first do work that
/// cannot run on the event loop (verify a signature, fetch keys, ask an external authorizer).
public enum StageVerdict: Sendable {
    case proceed
    case reject(GatehouseError)
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
}
