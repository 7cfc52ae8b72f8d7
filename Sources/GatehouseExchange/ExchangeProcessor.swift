import GatehouseCore
import NIOCore
import NIOHTTP1

/// What a listener, or an in-process caller, hands each request to: the gateway's pipeline.
public protocol ExchangeProcessor: Sendable {
    /// Called on the exchange's event loop once a request head has passed the listener's limits.
    /// The processor must eventually end the exchange (`sendEnd`, `fail`, `respond` or `abort`).
    func begin(_ exchange: any Exchange)
}

/// Told once per exchange, when it is over: where telemetry is written.
public protocol ExchangeObserver: Sendable {
    func exchangeFinished(_ record: RequestRecord)
}

/// Turns an error into the response a caller sees. Implemented once, at the edge (GatehouseGateway).
public protocol ErrorRenderer: Sendable {
    func render(_ error: GatehouseError, requestId: String) -> RenderedError
}

public struct RenderedError: Sendable {
    public var status: HTTPResponseStatus
    public var flags: ResponseFlags
    public var headers: HTTPHeaders
    public var body: String

    public init(status: HTTPResponseStatus, flags: ResponseFlags, headers: HTTPHeaders, body: String) {
        self.status = status
        self.flags = flags
        self.headers = headers
        self.body = body
    }
}

extension HTTPHeaders: RequestHeaders {
    public func first(_ name: String) -> String? { first(name: name) }
    public func joined(_ name: String) -> String? {
        let values = self[name]
        return values.isEmpty ? nil : values.joined(separator: ",")
    }
}
