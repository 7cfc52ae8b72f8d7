import GatehouseCore

/// How the dispatcher, the scheduler and async calls reach a function: in-process, through the
/// same stages as any request (Gatehouse's `LocalInvoker`), as a given mesh identity.
public protocol EventInvoker: Sendable {
    func send(_ request: OutgoingCall) async -> CallAnswer
}

/// A request made on the broker's (or a caller's) behalf.
public struct OutgoingCall: Sendable {
    public var method: String
    /// A host Gatehouse serves (`NAME.NAMESPACE.<domain>`, a VirtualService host).
    public var host: String
    public var path: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The SPIFFE ID the call carries as its verified peer (a trigger's, or an async caller's); nil: none.
    public var identity: String?
    /// Cancelled after this long (the answer is then `.failed`).
    public var timeout: Duration?

    public init(
        method: String = "POST", host: String, path: String, headers: [(name: String, value: String)], body: [UInt8], identity: String?,
        timeout: Duration?
    ) {
        self.method = method
        self.host = host
        self.path = path
        self.headers = headers
        self.body = body
        self.identity = identity
        self.timeout = timeout
    }
}

/// What came back: a whole response (any status, Gatehouse's own refusals included), or none.
public enum CallAnswer: Sendable {
    case response(status: Int, headers: [(name: String, value: String)], body: [UInt8])
    /// No response: timed out, or the function's response broke off.
    case failed(reason: String)

    public var status: Int? {
        if case .response(let status, _, _) = self { status } else { nil }
    }
}

extension EventDestination {
    /// The host and path a call to this destination goes to.
    public func address(domain: String) -> (host: String, path: String) {
        switch target {
        case .function(let namespace, let name, let path): ("\(name).\(namespace).\(domain)", path)
        case .uri(let host, let path): (host, path)
        }
    }
}
