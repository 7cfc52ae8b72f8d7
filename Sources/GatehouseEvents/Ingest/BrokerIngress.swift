import Foundation
import GatehouseCore
import GatehouseExchange
import GatehouseStore
import NIOCore

extension EventBroker {
    /// ⑥ for a request the route stage sent to a Broker (after every other stage let it through):
    /// reads the CloudEvents in it (binary, structured or batched mode), checks the Broker's
    /// EventPolicies and answers 202 only once the events are durable. Runs on the exchange's loop.
    public func publish(_ exchange: Exchange, to broker: BrokerDirectory.Broker, in directory: BrokerDirectory) {
        let loop = exchange.eventLoop
        let bound = NIOLoopBound(exchange, eventLoop: loop)
        let started = ContinuousClock.now
        let ref = BrokerRef(namespace: broker.spec.namespace, name: broker.spec.name)
        exchange.delegate = BodyCollector(limit: Self.maxPublishBytes) { [self] outcome in
            let exchange = bound.value
            exchange.delegate = nil
            let body: [UInt8]
            switch outcome {
            case .complete(let bytes): body = bytes
            case .clientGone: return  // the publisher left: nothing acknowledged
            case .tooLarge:
                metrics.published(broker: ref, eventType: "", status: 413, seconds: (ContinuousClock.now - started).timeInterval)
                exchange.fail(GatehouseError(.bodyTooLarge, detail: "a publish request's body is at most \(Self.maxPublishBytes) bytes"))
                return
            }
            let sender = EventSender(record: exchange.record)
            let trace = exchange.record.trace
            let traceparent = trace.isValid ? trace.traceparent(parent: trace.spanId) : nil
            let headers = exchange.head.headers
            Task {
                // Decoded off the event loop: a JSON body of up to a mebibyte is not the loop's to parse.
                let outcome: Result<Int, EventBroker.Refusal>
                var eventType = ""
                var count = 0
                switch decoder.decode(headers: headers, body: body) {
                case .success(let events):
                    eventType = events.first?.type ?? ""
                    count = events.count
                    outcome = await accept(events, to: broker, in: directory, from: sender, traceparent: traceparent)
                case .failure(let error):
                    outcome = .failure(.notStored(GatehouseError(.invalidEvent, detail: error.detail, reason: error.reason)))
                }
                let (eventTypeSeen, countSeen) = (eventType, count)
                loop.execute {
                    let (eventType, count) = (eventTypeSeen, countSeen)
                    let exchange = bound.value
                    guard !exchange.isFinished else { return }
                    let status: Int
                    switch outcome {
                    case .success(let stored):
                        status = 202
                        exchange.respond(GatewayReply(status: 202, details: "accepted \(stored) of \(count) events into Broker \(ref)"))
                    case .failure(.denied(let decision)):
                        status = 403
                        exchange.record.decision = decision
                        exchange.fail(GatehouseError(.deniedByEventPolicy, detail: decision.reason))
                    case .failure(.notStored(let error)):
                        status = error.code == .invalidEvent ? 400 : 503
                        exchange.fail(error)
                    }
                    self.metrics.published(broker: ref, eventType: eventType, status: status, seconds: (ContinuousClock.now - started).timeInterval)
                }
            }
        }
    }

    /// A publish request's largest body (one event, or a batch of them): events are stored and
    /// held until delivered, so they are kept small; a function call's body can be larger.
    public static let maxPublishBytes = 1 << 20
}
