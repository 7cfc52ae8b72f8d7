import GatehouseCore
import NIOCore
import NIOHTTP1

/// What the listener hands each request to: the gateway's pipeline.
public protocol ExchangeProcessor: Sendable {
    /// Called on the connection's event loop once a request head has passed the listener's limits.
    /// The processor must eventually end the exchange (`sendEnd`, `fail` or `abort`).
    func begin(_ exchange: ClientExchange)
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

/// Receives the request body as it arrives, and what happens to the client while it is served.
/// Set on the exchange by whoever forwards it; called on the exchange's event loop.
public protocol ExchangeDelegate: AnyObject {
    func requestBodyPart(_ buffer: ByteBuffer)
    func requestBodyEnd()
    /// The client closed its connection before the exchange ended.
    func clientDisconnected()
    /// The client connection can take more bytes again (after `isClientWritable` was false).
    func clientBecameWritable()
}

extension HTTPHeaders: RequestHeaders {
    public func first(_ name: String) -> String? { first(name: name) }
    public func joined(_ name: String) -> String? {
        let values = self[name]
        return values.isEmpty ? nil : values.joined(separator: ",")
    }
}
