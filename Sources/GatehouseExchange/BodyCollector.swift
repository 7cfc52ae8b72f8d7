import NIOCore

/// Collects a request body for a handler that needs all of it, up to `limit` bytes (the listener
/// has already bounded it; a handler may take less); calls `done` once, on the exchange's event
/// loop.
public final class BodyCollector: ExchangeDelegate {
    public enum Outcome {
        case complete([UInt8])
        /// Past `limit`: what arrived is dropped and the rest is not kept.
        case tooLarge
        /// The caller left first.
        case clientGone
    }

    private var body: [UInt8] = []
    private let limit: Int
    private var done: ((Outcome) -> Void)?

    public init(limit: Int = .max, done: @escaping (Outcome) -> Void) {
        self.limit = limit
        self.done = done
    }

    public func requestBodyPart(_ buffer: ByteBuffer) {
        guard done != nil else { return }
        guard body.count + buffer.readableBytes <= limit else {
            body = []
            finish(.tooLarge)
            return
        }
        body.append(contentsOf: buffer.readableBytesView)
    }

    public func requestBodyEnd() { finish(.complete(body)) }

    public func clientDisconnected() { finish(.clientGone) }

    public func clientBecameWritable() {}

    private func finish(_ outcome: Outcome) {
        let done = done
        self.done = nil
        done?(outcome)
    }
}
