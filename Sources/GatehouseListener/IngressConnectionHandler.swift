import GatehouseCore
import NIOCore
import NIOHTTP1

/// ① One client connection: turns parsed HTTP/1.1 parts into exchanges, one at a time.
///
/// NIO's `HTTPServerPipelineHandler` sits in front of it, so a pipelined request is only delivered
/// once the previous response has ended.
final class IngressConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let renderer: any ErrorRenderer
    private let processor: any ExchangeProcessor
    private let observer: any ExchangeObserver
    private let limits: ListenerLimits
    private let loopIndex: Int
    private let tracker: ConnectionTracker
    private var exchange: ClientExchange?
    private var downstreamAddress: String?
    private(set) var isDraining = false

    init(
        processor: any ExchangeProcessor, observer: any ExchangeObserver, renderer: any ErrorRenderer,
        limits: ListenerLimits, loopIndex: Int, tracker: ConnectionTracker
    ) {
        self.processor = processor
        self.observer = observer
        self.renderer = renderer
        self.limits = limits
        self.loopIndex = loopIndex
        self.tracker = tracker
    }

    func handlerAdded(context: ChannelHandlerContext) {
        downstreamAddress = context.channel.remoteAddress?.ipAddress
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let exchange = ClientExchange(
                head: head, connection: self, context: context, loopIndex: loopIndex, limits: limits,
                downstreamAddress: downstreamAddress)
            self.exchange = exchange
            if let violation = checkLimits(head) {
                exchange.fail(violation)
            } else {
                processor.begin(exchange)
            }
        case .body(let buffer):
            exchange?.receiveBody(buffer)
        case .end:
            exchange?.receiveEnd()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.clientClosed()
        tracker.remove(context.channel)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.clientWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        // A request that could not be parsed gets one error response, then the connection closes.
        if let exchange, exchange.responseStarted {
            exchange.abort()
            return
        }
        let failure: GatehouseError
        if case .headerOverflow = parserError {
            failure = GatehouseError(.headersTooLarge, detail: "request headers exceeded the parser's limit")
        } else {
            failure = GatehouseError(.badRequest, detail: "malformed HTTP request: \(parserError)")
        }
        let exchange = self.exchange ?? ClientExchange(
            head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"), connection: self, context: context,
            loopIndex: loopIndex, limits: limits, downstreamAddress: downstreamAddress)
        self.exchange = exchange
        exchange.fail(failure)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DrainConnection {
            isDraining = true
            if exchange == nil { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Called by the exchange as it ends, before its last write.
    func exchangeFinished(_ finished: ClientExchange) {
        if exchange === finished { exchange = nil }
        observer.exchangeFinished(finished.record)
    }

    private func checkLimits(_ head: HTTPRequestHead) -> GatehouseError? {
        var headerBytes = head.uri.utf8.count + 16
        for (name, value) in head.headers {
            headerBytes += name.utf8.count + value.utf8.count + 4
        }
        if headerBytes > limits.maxHeaderBytes {
            return GatehouseError(.headersTooLarge, detail: "request headers are \(headerBytes) bytes, limit \(limits.maxHeaderBytes)")
        }
        if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limits.maxBodyBytes {
            return GatehouseError(.bodyTooLarge, detail: "content-length \(length) exceeds \(limits.maxBodyBytes)")
        }
        return nil
    }
}

/// Sent to every connection when the listener shuts down: finish the current response, then close.
struct DrainConnection: Sendable {}
