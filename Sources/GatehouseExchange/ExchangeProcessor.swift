import GatehouseCore
import NIOCore
import NIOHTTP1

/// What a listener, or an in-process caller, hands each request to: the gateway's pipeline.
public protocol ExchangeProcessor: Sendable {
    /// Called on the exchange's event loop once a request head has passed the listener's limits.
    /// The processor must eventually end the exchange (`sendEnd`, `fail`, `respond` or `abort`).
    func begin(_ exchange: Exchange)
}

/// Told about each exchange twice: as it begins and when it is over. Where telemetry is written
/// (metrics, the access log, the decision log; trace spans and audit records next), from the
/// request's record and nothing else.
///
/// Both are called on the exchange's event loop, on the request path: an observer must not block
/// or wait, and hands anything slow to a `BoundedBatchWriter` (GatehouseTelemetry).
///
/// The record is lent `inout` from the exchange that owns it: passed by value from a class, it
/// would be copied for every call, retaining each of its strings and references (about 1.5 % of
/// the forwarding path's CPU). Observers read it; only `ReleaseStageHolds` changes it (it empties
/// `onFinish` once it has run it).
public protocol ExchangeObserver: Sendable {
    /// Once the listener has read and checked the head (the record has its request id, method,
    /// path, peer), before any stage runs — or before the refusal, for a head the listener refused.
    func exchangeBegan(_ record: inout RequestRecord)
    /// Once, when the exchange has ended however it ended; `record` is final.
    func exchangeFinished(_ record: inout RequestRecord)
}

extension ExchangeObserver {
    public func exchangeBegan(_ record: inout RequestRecord) {}
}

/// Several observers told in one declared order, begin and finish alike: the gateway declares its
/// list once (`GatehouseGateway/ExchangeObservers.swift`), and every listener shares it.
public struct ExchangeObserverFanOut: ExchangeObserver {
    public let observers: [any ExchangeObserver]

    public init(_ observers: [any ExchangeObserver]) {
        self.observers = observers
    }

    public func exchangeBegan(_ record: inout RequestRecord) {
        for observer in observers { observer.exchangeBegan(&record) }
    }

    public func exchangeFinished(_ record: inout RequestRecord) {
        for observer in observers { observer.exchangeFinished(&record) }
    }
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
    /// The caller-facing sentence alone (what a gRPC caller gets as `grpc-message`).
    public var message: String

    public init(status: HTTPResponseStatus, flags: ResponseFlags, headers: HTTPHeaders, body: String, message: String = "") {
        self.status = status
        self.flags = flags
        self.headers = headers
        self.body = body
        self.message = message
    }
}

extension HTTPHeaders: RequestHeaders {
    public func first(_ name: String) -> String? { first(name: name) }
    /// One pass, comparing lengths before names: most headers are ruled out without a comparison.
    public func containsAny(of names: [String]) -> Bool {
        contains { header in
            let count = header.name.utf8.count
            return names.contains { $0.utf8.count == count && header.name.lowercased() == $0 }
        }
    }
    public func joined(_ name: String) -> String? {
        let values = self[name]
        return values.isEmpty ? nil : values.joined(separator: ",")
    }
}
