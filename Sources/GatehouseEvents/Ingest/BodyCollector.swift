import GatehouseExchange
import NIOCore

/// Collects a request body for a handler that needs all of it (the listener has already bounded
/// its size); calls `done` once, on the exchange's event loop, with the bytes or nil when the
/// caller left first.
final class BodyCollector: ExchangeDelegate {
    private var body: [UInt8] = []
    private var done: (([UInt8]?) -> Void)?

    init(done: @escaping ([UInt8]?) -> Void) { self.done = done }

    func requestBodyPart(_ buffer: ByteBuffer) { body.append(contentsOf: buffer.readableBytesView) }

    func requestBodyEnd() {
        let done = done
        self.done = nil
        done?(body)
    }

    func clientDisconnected() {
        let done = done
        self.done = nil
        done?(nil)
    }

    func clientBecameWritable() {}
}
