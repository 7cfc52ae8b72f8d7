import GatehouseExchange
import NIOCore

/// Collects a request body for a handler that needs all of it, up to `limit` bytes (the listener
/// has already bounded it; a handler may take less); calls `done` once, on the exchange's event
/// loop.
final class BodyCollector: ExchangeDelegate {
    enum Outcome {
        case complete([UInt8])
        /// Past `limit`: what arrived is dropped and the rest is not kept.
        case tooLarge
        /// The caller left first.
        case clientGone
    }

    private var body: [UInt8] = []
    private let limit: Int
    private var done: ((Outcome) -> Void)?

    init(limit: Int = .max, done: @escaping (Outcome) -> Void) {
        self.limit = limit
        self.done = done
    }

    func requestBodyPart(_ buffer: ByteBuffer) {
        guard done != nil else { return }
        guard body.count + buffer.readableBytes <= limit else {
            body = []
            finish(.tooLarge)
            return
        }
        body.append(contentsOf: buffer.readableBytesView)
    }

    func requestBodyEnd() { finish(.complete(body)) }

    func clientDisconnected() { finish(.clientGone) }

    func clientBecameWritable() {}

    private func finish(_ outcome: Outcome) {
        let done = done
        self.done = nil
        done?(outcome)
    }
}
