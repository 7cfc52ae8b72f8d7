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
        exchange.delegate = BodyCollector { [self] body in
            let exchange = bound.value
            exchange.delegate = nil
            guard let body else { return }  // the publisher left: nothing acknowledged
            let events: [CloudEvent]
            switch decoder.decode(headers: exchange.head.headers, body: body) {
            case .success(let decoded):
                events = decoded
            case .failure(let error):
                metrics.published(broker: ref, eventType: "", status: 400, seconds: (ContinuousClock.now - started).seconds)
                exchange.fail(GatehouseError(.invalidEvent, detail: error.detail, reason: error.reason))
                return
            }
            let sender = EventSender(record: exchange.record)
            let trace = exchange.record.trace
            let traceparent = trace.isValid ? trace.traceparent(parent: trace.spanId) : nil
            let eventType = events.first?.type ?? ""
            Task {
                let outcome = await accept(events, to: broker, in: directory, from: sender, traceparent: traceparent)
                loop.execute {
                    let exchange = bound.value
                    guard !exchange.isFinished else { return }
                    let status: Int
                    switch outcome {
                    case .success(let count):
                        status = 202
                        exchange.respond(GatewayReply(status: 202, details: "accepted \(count) of \(events.count) events into Broker \(ref)"))
                    case .failure(.denied(let decision)):
                        status = 403
                        exchange.record.decision = decision
                        exchange.fail(GatehouseError(.deniedByEventPolicy, detail: decision.reason))
                    case .failure(.notStored(let error)):
                        status = 503
                        exchange.fail(error)
                    }
                    self.metrics.published(broker: ref, eventType: eventType, status: status, seconds: (ContinuousClock.now - started).seconds)
                }
            }
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
